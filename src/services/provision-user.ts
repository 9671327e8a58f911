import type { User } from '../domain/types.js';
import type { CoreContext } from './context.js';
import type { NumberService } from './number-service.js';
import { newId } from '../ids.js';

/**
 * Creates a user together with their personal account on a number already rented for them; if
 * either write fails the number is given back, so a refused user never costs a number.
 */
export async function provisionUser(c: CoreContext, numbers: NumberService, user: User, personalNumber: string): Promise<User> {
  try {
    const created = await c.store.users.create(user);
    await c.store.accounts.create(
      {
        id: newId(),
        kind: 'personal',
        name: created.name,
        apiCode: null,
        departmentId: null,
        ownerUserId: created.id,
        color: null,
        forwardingNumber: null,
        numbers: [personalNumber],
        createdAt: created.createdAt,
        updatedAt: created.createdAt,
      },
      [created.id],
    );
    return created;
  } catch (e) {
    await numbers.release([personalNumber]);
    throw e;
  }
}
