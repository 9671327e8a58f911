import type { Core } from '../core.js';
import type { User } from '../domain/types.js';
import { hashPassword } from '../auth/passwords.js';
import { newId } from '../ids.js';
import { AppError } from '../errors.js';
import { provisionUser } from './provision-user.js';

// The first owner of an organisation cannot be created through the API (nobody is signed in yet):
// OWNER_EMAIL on first start and the demo seed both come through here.

export async function createOwner(
  core: Core,
  input: { email: string; name: string; password: string; departmentIds: string[]; areaCode: string },
): Promise<User> {
  const { store, clock } = core.context;
  if (await store.users.getByEmail(input.email)) throw new AppError('email_taken', `A user with email ${input.email} exists`);
  const number = await core.numbers.acquireAny(input.areaCode);
  return provisionUser(
    core.context,
    core.numbers,
    {
      id: newId(),
      email: input.email.toLowerCase(),
      name: input.name,
      role: 'owner',
      departmentIds: input.departmentIds,
      passwordHash: await hashPassword(input.password),
      disabled: false,
      createdAt: clock.now(),
    },
    number,
  );
}
