// Proves keySlot matches Redis Cluster's CRC16-XMODEM + hash-tag rule, using the spec's check value and hard-coded slots from Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc16, keySlot, SLOT_COUNT } from '../../src/cluster/slot.js';

test('CRC16-XMODEM check value of "123456789" is 0x31C3', () => {
  assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
});

test('known slots from Redis CLUSTER KEYSLOT', () => {
  const vectors: Array<[string, number]> = [
    ['foo', 12182], ['bar', 5061], ['', 0], ['123456789', 0x31c3 % SLOT_COUNT],
    ['{user1000}.following', keySlot('user1000')],
    ['key:{42}', keySlot('42')],
  ];
  for (const [key, slot] of vectors) assert.equal(keySlot(key), slot, key);
});

test('hash tags follow the cluster spec', () => {
  assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
  assert.equal(keySlot('foo{}{bar}'), crc16(Buffer.from('foo{}{bar}')) % SLOT_COUNT);
  assert.equal(keySlot('foo{{bar}}zap'), keySlot('{bar'));
  assert.equal(keySlot('foo{{bar}}zap'), crc16(Buffer.from('{bar')) % SLOT_COUNT);
  assert.equal(keySlot('foo{bar}{zap}'), keySlot('bar'));
  assert.equal(keySlot('foo{bar'), crc16(Buffer.from('foo{bar')) % SLOT_COUNT);
  assert.equal(keySlot('foo}bar{'), crc16(Buffer.from('foo}bar{')) % SLOT_COUNT);
});

test('Buffer and string keys agree, including binary bytes', () => {
  const bin = Buffer.from([0xff, 0x00, 0x7b, 0x01, 0x7d]);
  assert.equal(keySlot(bin), crc16(Buffer.from([0x01])) % SLOT_COUNT);
  assert.equal(keySlot(Buffer.from('héllo')), keySlot('héllo'));
  for (let i = 0; i < 1000; i++) {
    const slot = keySlot(`key:${i}`);
    assert.ok(slot >= 0 && slot < SLOT_COUNT);
  }
});
