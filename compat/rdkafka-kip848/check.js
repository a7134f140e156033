// KIP-848 consumer groups through librdkafka (node-rdkafka) against a
// running Sluice broker; run.sh starts the broker and runs this.
//
// Usage: BROKER=host:port TOPIC=t PARTITIONS=n FIRST=n SLUICE=path node check.js
//
// The topic holds FIRST records (written by the caller with `sluice
// produce`, a franz-go producer). Two consumers with
// group.protocol=consumer join one group: together they must hold every
// partition, neither sharing one, and read every record once, committing
// as they go. Then the first closes (a leave heartbeat); the second must
// be given every partition, read the records produced after that from
// the committed offsets (none of the first ones again) and commit them.
// Prints "ok <check>" or "FAIL <check>: why" per step; exits 1 on a
// failure.
'use strict';

const Kafka = require('node-rdkafka');
const { execFileSync } = require('child_process');

const broker = process.env.BROKER || '127.0.0.1:9092';
const topic = process.env.TOPIC;
const partitions = Number(process.env.PARTITIONS || 4);
const first = Number(process.env.FIRST || 200);
const sluice = process.env.SLUICE || 'sluice';
const group = `${topic}-g`;
const deadlineMs = Number(process.env.CHECK_TIMEOUT_MS || 60000);

let failed = 0;
const ok = (what) => console.log(`ok   ${what}`);
const fail = (what, why) => { failed++; console.log(`FAIL ${what}: ${why}`); };

function consumer(name, groupID = group, extra = {}) {
  const seen = [];
  const errors = [];
  const conf = {
    'bootstrap.servers': broker,
    'group.id': groupID,
    'group.protocol': 'consumer',
    'client.id': name,
    'enable.auto.commit': false,
    'rebalance_cb': true,
  };
  Object.assign(conf, extra);
  if (process.env.RDK_DEBUG) conf.debug = process.env.RDK_DEBUG; // e.g. cgrp,protocol
  const c = new Kafka.KafkaConsumer(conf, { 'auto.offset.reset': 'earliest' });
  c.on('data', (m) => {
    seen.push(m);
    // Commit the next offset to read, per message, as a consumer that
    // commits what it processed does.
    c.commitMessage(m);
  });
  c.on('event.error', (e) => errors.push(`${name}: ${e.message} (${e.code})`));
  c.on('event.log', (l) => {
    console.log(`[${name}] ${l.fac} ${l.message}`);
    // librdkafka reports a fatal consumer error (one ending the group
    // membership, as INVALID_REQUEST on a heartbeat does) as a log line of
    // severity 2 or less, not always as an error event.
    if (l.severity <= 3) errors.push(`${name}: ${l.fac} ${l.message}`);
  });
  return { name, c, seen, errors };
}

const connect = (x) => new Promise((resolve, reject) => {
  x.c.connect({ timeout: 15000 }, (err) => (err ? reject(err) : resolve()));
});

const owned = (x) => x.c.assignments().filter((tp) => tp.topic === topic).map((tp) => tp.partition);

async function until(what, cond) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const key = (m) => `${m.partition}/${m.offset}`;
const values = (xs) => xs.map((m) => m.value.toString());

function committed(x) {
  return new Promise((resolve, reject) => {
    const tps = [];
    for (let p = 0; p < partitions; p++) tps.push({ topic, partition: p });
    x.c.committed(tps, 10000, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function produce(lines) {
  execFileSync(sluice, ['produce', topic, '--brokers', broker, '--key-delimiter', ':'],
    { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'inherit'] });
}

async function main() {
  console.log(`librdkafka ${Kafka.librdkafkaVersion}, node-rdkafka ${require('node-rdkafka/package.json').version}`);
  const a = consumer('rdk-a');
  const b = consumer('rdk-b');
  await connect(a);
  await connect(b);
  a.c.subscribe([topic]);
  b.c.subscribe([topic]);
  a.c.consume();
  b.c.consume();

  // 1. Both members share the partitions.
  const shared = await until('shared', () => {
    const pa = owned(a), pb = owned(b);
    return pa.length > 0 && pb.length > 0 && pa.length + pb.length === partitions &&
      new Set([...pa, ...pb]).size === partitions;
  });
  if (shared) ok(`join/two-members-share (a=${owned(a)} b=${owned(b)})`);
  else fail('join/two-members-share', `a owns [${owned(a)}], b owns [${owned(b)}]; errors: ${[...a.errors, ...b.errors].join('; ')}`);

  // 2. Every record once between them.
  const all = () => [...a.seen, ...b.seen];
  await until('first', () => new Set(all().map(key)).size >= first);
  const keys = all().map(key);
  const distinct = new Set(keys).size;
  if (distinct === first && keys.length === first) ok(`consume/every-record-once (${first})`);
  else fail('consume/every-record-once', `${keys.length} records, ${distinct} distinct, want ${first}`);

  // 3. The commits are the group's: every partition's committed offset is
  // the number of records it holds.
  const perPart = new Array(partitions).fill(0);
  for (const m of all()) perPart[m.partition] = Math.max(perPart[m.partition], m.offset + 1);
  let done = false;
  for (const end = Date.now() + deadlineMs; !done && Date.now() < end;) {
    const res = await committed(b);
    done = res.every((tp) => tp.offset === perPart[tp.partition]);
    if (!done) await new Promise((r) => setTimeout(r, 200));
  }
  if (done) ok(`commit/offsets (${perPart})`);
  else fail('commit/offsets', `committed ${JSON.stringify(await committed(b))}, want ${perPart}`);

  // 4. a leaves; b takes every partition.
  await new Promise((r) => a.c.disconnect(r));
  const took = await until('takeover', () => owned(b).length === partitions);
  if (took) ok(`leave/other-takes-over (b=${owned(b)})`);
  else fail('leave/other-takes-over', `b owns [${owned(b)}]; errors: ${b.errors.join('; ')}`);

  // 5. b reads what is produced now, on every partition, from the
  // committed offsets: nothing of the first records again.
  const before = b.seen.length;
  const second = [];
  for (let i = 0; i < 4 * partitions; i++) second.push(`k${i}:after-${i}`);
  produce(second);
  await until('second', () => b.seen.length - before >= second.length);
  const got = values(b.seen.slice(before));
  const parts = new Set(b.seen.slice(before).map((m) => m.partition));
  if (got.length === second.length && got.every((v) => v.startsWith('after-')) && parts.size === partitions)
    ok(`leave/resume-from-commit (${got.length} records on ${parts.size} partitions)`);
  else fail('leave/resume-from-commit', `${got.length} records after the leave (${got.slice(0, 5)}...) on partitions [${[...parts]}], want ${second.length} new ones on all`);

  // Errors reported by librdkafka at any point (a fatal one ends the
  // consumer) fail the check.
  const errs = [...a.errors, ...b.errors];
  if (errs.length === 0) ok('no-client-errors');
  else fail('no-client-errors', errs.join('; '));

  await new Promise((r) => b.c.disconnect(r));

  // 6. A regex subscription (librdkafka sends it as SubscribedTopicRegex
  // for the broker to resolve, KIP-848) in a group of its own reads every
  // record of the topic.
  const r = consumer('rdk-regex', `${group}-regex`);
  await connect(r);
  r.c.subscribe([`^${topic.replace(/[-]/g, '[-]')}$`]);
  r.c.consume();
  const total = first + second.length;
  await until('regex', () => new Set(r.seen.map(key)).size >= total);
  const rp = owned(r);
  if (new Set(r.seen.map(key)).size === total && rp.length === partitions)
    ok(`regex/broker-resolves (${total} records, partitions ${rp})`);
  else fail('regex/broker-resolves', `${r.seen.length} records, want ${total}; owns [${rp}]; errors: ${r.errors.join('; ')}`);
  if (r.errors.length > 0) fail('regex/no-client-errors', r.errors.join('; '));
  await new Promise((res) => r.c.disconnect(res));

  // 7. Static members (group.instance.id) with the range assignor: one
  // restarts (a new member id; librdkafka leaves with epoch -2 on close)
  // and gets its partitions back while the other keeps its own, with no
  // rebalance in between.
  const sg = `${group}-static`;
  const st = { 'group.instance.id': 'i-1', 'group.remote.assignor': 'range' };
  let s1 = consumer('rdk-s1', sg, st);
  const s2 = consumer('rdk-s2', sg, { ...st, 'group.instance.id': 'i-2' });
  await connect(s1); await connect(s2);
  s1.c.subscribe([topic]); s2.c.subscribe([topic]);
  s1.c.consume(); s2.c.consume();
  const half = partitions / 2;
  if (!await until('static', () => owned(s1).length === half && owned(s2).length === half)) {
    fail('static/share', `s1 owns [${owned(s1)}], s2 [${owned(s2)}]`);
  } else {
    const had1 = owned(s1).join(','), had2 = owned(s2).join(',');
    await new Promise((res) => s1.c.disconnect(res));
    s1 = consumer('rdk-s1-again', sg, st);
    await connect(s1);
    s1.c.subscribe([topic]);
    s1.c.consume();
    await until('static rejoin', () => owned(s1).length === half);
    if (owned(s1).join(',') === had1 && owned(s2).join(',') === had2)
      ok(`static/restart-keeps-partitions (s1=${had1} s2=${had2})`);
    else fail('static/restart-keeps-partitions', `s1 had [${had1}], now [${owned(s1)}]; s2 had [${had2}], now [${owned(s2)}]`);
  }
  if (s1.errors.length + s2.errors.length > 0) fail('static/no-client-errors', [...s1.errors, ...s2.errors].join('; '));
  await new Promise((res) => s1.c.disconnect(res));
  await new Promise((res) => s2.c.disconnect(res));

  // 8. KIP-368: with connections.max.reauth.ms=2000 on the SASL listener
  // (run.sh sets it), a PLAIN producer keeps producing for 7 s on its
  // connection, re-authenticating in place, and every record is acked.
  if (process.env.SASL_BROKER) await reauth();

  console.log(failed === 0 ? 'rdkafka-kip848: all checks passed' : `rdkafka-kip848: ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

async function reauth() {
  const errs = [];
  let reauths = 0, delivered = 0;
  const p = new Kafka.Producer({
    'bootstrap.servers': process.env.SASL_BROKER, 'security.protocol': 'SASL_PLAINTEXT',
    'sasl.mechanisms': 'PLAIN', 'sasl.username': 'rdk', 'sasl.password': 'rdk-secret',
    'dr_cb': true, 'debug': 'security,broker', // broker: its state changes show the re-authentications
  });
  p.on('delivery-report', (err) => { if (err) errs.push(err.message); else delivered++; });
  p.on('event.error', (e) => errs.push(e.message));
  p.on('event.log', (l) => {
    if (/Broker changed state UP -> REAUTH/.test(l.message)) reauths++;
    if (l.severity <= 3) errs.push(`${l.fac} ${l.message}`);
  });
  p.setPollInterval(50);
  await new Promise((res, rej) => p.connect({ timeout: 15000 }, (e) => (e ? rej(e) : res())));
  let sent = 0;
  for (const end = Date.now() + 7000; Date.now() < end; sent++) {
    p.produce(topic, null, Buffer.from(`reauth-${sent}`));
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((res) => p.flush(15000, res));
  await new Promise((res) => p.disconnect(res));
  if (delivered === sent && reauths >= 2 && errs.length === 0)
    ok(`sasl/reauth-in-place (${sent} records acked, ${reauths} re-authentications)`);
  else fail('sasl/reauth-in-place', `${delivered} of ${sent} acked, ${reauths} re-authentications; errors: ${errs.slice(0, 3).join('; ')}`);
}

// A step that never returns (a close that hangs) fails the run instead of
// leaving it to an outer timeout.
setTimeout(() => {
  console.log(`FAIL run: not finished after ${4 * deadlineMs / 1000} s (last step above)`);
  process.exit(1);
}, 4 * deadlineMs).unref();

main().catch((e) => { console.log(`FAIL run: ${e.stack || e}`); process.exit(1); });
