import { describe, expect, it } from 'vitest';
import { chooseSender } from '../../src/domain/sender-selection.js';

const pool = ['+16175550001', '+16175550002', '+17815550003', '+15085550004', '+12125550005', '+12125550006'];
const idle = () => 0;

describe('choosing the pool number that texts a contact', () => {
  it('keeps the number the contact already texts with (sticky sender)', () => {
    expect(chooseSender(pool, '+16175559999', '+12125550006', idle)).toEqual({ number: '+12125550006', reason: 'sticky' });
  });

  it('ignores a sticky number that left the pool', () => {
    expect(chooseSender(pool, '+17815559999', '+19995550000', idle)).toEqual({ number: '+17815550003', reason: 'areaCode' });
  });

  it('gives a new contact a number with the same area code', () => {
    expect(chooseSender(pool, '+15085551234', null, idle)).toEqual({ number: '+15085550004', reason: 'areaCode' });
  });

  it('picks the least busy of several same-area-code numbers', () => {
    const load = (n: string) => (n === '+12125550005' ? 10 : 2);
    expect(chooseSender(pool, '+12125551234', null, load)?.number).toBe('+12125550006');
  });

  it('otherwise picks the least busy number, ties in pool order', () => {
    const load = (n: string) => ({ '+16175550001': 3, '+16175550002': 1 })[n] ?? 5;
    expect(chooseSender(pool, '+14155551234', null, load)).toEqual({ number: '+16175550002', reason: 'leastBusy' });
    expect(chooseSender(pool, '+14155551234', null, idle)?.number).toBe('+16175550001');
  });

  it('has nothing to choose from an empty pool', () => {
    expect(chooseSender([], '+16175551234', null, idle)).toBeNull();
  });
});
