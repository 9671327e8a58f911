// uWS topics: one per account (messages, folder moves, lock changes of its conversations) and one
// per department lock board (operators).
export const accountTopic = (accountId: string): string => `a/${accountId}`;
export const boardTopic = (departmentId: string): string => `b/${departmentId}`;
