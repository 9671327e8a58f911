// A compile-time check that two types are the same, used to hold a wire schema to the type it
// describes: `true satisfies Equal<A, B>` fails the type check when they differ in any field.
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
