import type { Core } from '../core.js';
import { personPrincipal } from '../auth/principal.js';
import type { User } from '../domain/types.js';
import { createOwner } from '../services/bootstrap.js';
import { newId, newSecret } from '../ids.js';

// The demo organisation, seeded on the first start of an empty store when DEMO_SEED is on (the
// default for `npm start`). It goes through the same services as the API, so the demo obeys
// every rule a real organisation does; nothing else in the code knows it exists.

export const DEMO_ADMIN_EMAIL = 'admin@example.edu';
const AREA_CODE = '617';

export interface DemoSeed {
  adminEmail: string;
  adminPassword: string;
  /** True when the password was generated (print it: nobody else knows it). */
  passwordGenerated: boolean;
  groupAccountCode: string;
  poolNumbers: string[];
  studentPhones: string[];
}

const STUDENTS = [
  ['Ana', 'Lopez', '+16175550101', 'Nursing', 'Fall 2026'],
  ['Ben', 'Okafor', '+16175550102', 'Biology', 'Fall 2026'],
  ['Chloe', 'Nguyen', '+17815550103', 'History', 'Spring 2027'],
  ['Dev', 'Patel', '+15085550104', 'Computer Science', 'Fall 2026'],
  ['Emma', 'Schultz', '+12125550105', 'Economics', 'Spring 2027'],
] as const;

export async function seedDemo(core: Core, options: { password: string | undefined; timeZone: string }): Promise<DemoSeed> {
  const { store, clock } = core.context;
  const now = clock.now();
  const passwordGenerated = options.password === undefined;
  const adminPassword = options.password ?? newSecret(12);

  const dept = await store.departments.create({ id: newId(), name: 'Admissions', code: 'ADM', timeZone: options.timeZone, createdAt: now });

  const admin = await createOwner(core, {
    email: DEMO_ADMIN_EMAIL,
    name: 'Alex Admin',
    password: adminPassword,
    departmentIds: [dept.id],
    areaCode: AREA_CODE,
  });
  const asAdmin = personPrincipal(admin);

  const staff: User[] = [];
  for (const [name, email] of [
    ['Dana Reyes', 'dana@example.edu'],
    ['Sam Kim', 'sam@example.edu'],
  ] as const) {
    const { user } = await core.directory.createUser(asAdmin, {
      email,
      name,
      role: 'staff',
      departmentIds: [dept.id],
      password: adminPassword,
      personalAreaCode: AREA_CODE,
    });
    staff.push(user);
  }

  const available = await core.numbers.searchAvailable(asAdmin, { areaCode: AREA_CODE, limit: 6 });
  const { account } = await core.groupAccounts.create(asAdmin, {
    name: 'Admissions Outreach',
    departmentId: dept.id,
    color: '#2f6fde',
    numbers: available.slice(0, 6).map((n) => n.number),
    forwardingNumber: null,
    memberIds: [admin.id, ...staff.map((s) => s.id)],
  });

  const csv = [
    'FirstName,LastName,Phone,StaffId,Program,Term',
    ...STUDENTS.map(([first, last, phone, program, term], i) => [first, last, phone, staff[i % staff.length]!.email, program, term].join(',')),
  ].join('\n');
  await core.directory.importContacts(asAdmin, csv);

  return {
    adminEmail: DEMO_ADMIN_EMAIL,
    adminPassword,
    passwordGenerated,
    groupAccountCode: account.apiCode!,
    poolNumbers: account.numbers,
    studentPhones: STUDENTS.map((s) => s[2]),
  };
}
