import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRuntimeApi, parseServersState, parseStatCsv, describeEndpoint, assertHaproxyName, RowCache } from '../../src/lb/haproxy-runtime.js';
import { LoadBalancerError } from '../../src/lb/load-balancer.js';

// Answers captured from HAProxy 2.6.12: web1 draining, web2 in maintenance, web3 up, web4 without checks.
const SERVERS_STATE = [
  '1',
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
  '3 app 1 web1 127.0.0.1 2 8 1 1 4 15 3 4 6 0 0 0 - 18081 - 0 0 - - 0',
  '3 app 2 web2 127.0.0.1 0 1 1 1 0 15 3 0 14 0 0 0 - 18082 - 0 0 - - 0',
  '3 app 3 web3 127.0.0.1 2 0 1 1 6 15 3 3 6 0 0 0 - 18083 - 0 0 - - 0',
  '3 app 4 web4 127.0.0.1 2 0 1 1 6 0 0 0 0 0 0 0 - 18084 - 0 0 - - 0',
  '',
  '',
].join('\n');

const STAT_HEADER =
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,';
const STAT = [
  STAT_HEADER,
  'app,web1,0,0,2,3,,41,0,0,,0,,0,0,0,0,DRAIN,0,1,0,0,0,6,0,,1,3,1,,0,,2,0,,0,L7OK,200,1,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,3,2,4,,,,127.0.0.1:18081,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'app,web2,1,1,0,2,,7,0,0,,0,,0,0,0,0,MAINT,1,1,0,0,0,2,0,,1,3,2,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,3,2,0,,,,127.0.0.1:18082,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'app,web3,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP 1/2,1,1,0,0,0,6,0,,1,3,3,,0,,2,0,,0,L7OK,200,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,3,2,3,,,,127.0.0.1:18083,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'app,web4,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,,,6,,,1,3,4,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:18084,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'app,BACKEND,0,0,2,3,2000,48,0,0,0,0,,0,0,0,0,UP,3,3,0,,0,6,0,,1,3,0,,48,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,0,0,0,0,,,0,0,0,0,0,,,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,,,,',
  '',
  '',
].join('\n');

test('parseServersState reads op state, admin state bits and check state per server', () => {
  const rows = parseServersState(SERVERS_STATE);
  assert.deepEqual(
    rows.map((row) => [row.name, row.opState, row.adminState, row.checked, row.checkHealth]),
    [
      ['web1', 2, 8, true, 4],
      // Maintenance pauses checks (bit 0x08 on top of configured+enabled): still a checked server.
      ['web2', 0, 1, true, 0],
      ['web3', 2, 0, true, 3],
      ['web4', 2, 0, false, 0],
    ],
  );
  assert.equal(rows[0]!.backend, 'app');
  assert.equal(rows[0]!.address, '127.0.0.1');
});

test('parseServersState finds columns by the header, not by position', () => {
  const reordered = ['1', '# srv_name be_name srv_admin_state srv_op_state srv_check_state srv_check_health srv_addr', 'web9 app 1 0 6 0 10.0.0.9', ''].join('\n');
  const [row] = parseServersState(reordered);
  assert.deepEqual(row, { backend: 'app', name: 'web9', address: '10.0.0.9', opState: 0, adminState: 1, checked: true, checkHealth: 0, checkInProgress: false });
});

test('parseServersState tells a health check running right now (srv_check_state 0x01), in maintenance too', () => {
  // Captured from HAProxy 2.6.12 (inter 500ms rise 2 fall 2): a check running while the server is
  // DOWN after a forced `health down` (state 0x7), and one running in maintenance (0xf: paused,
  // yet the check that started before maintenance goes on).
  const header =
    '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state';
  const rows = parseServersState(
    ['1', header, '3 app 1 web1 127.0.0.1 0 8 1 1 0 15 0 0 7 0', '3 app 2 web2 127.0.0.1 0 1 1 1 0 15 0 0 15 0', '3 app 3 web3 127.0.0.1 0 1 1 1 0 15 3 0 14 0', ''].join('\n'),
  );
  assert.deepEqual(
    rows.map((row) => [row.name, row.checked, row.checkInProgress, row.checkHealth]),
    [
      ['web1', true, true, 0],
      ['web2', true, true, 0],
      ['web3', true, false, 0],
    ],
  );
});

test('parseServersState refuses error answers instead of reading them as "no servers"', () => {
  assert.throws(() => parseServersState("Can't find backend.\n\n"), /unexpected answer to 'show servers state': Can't find backend\./);
  assert.throws(() => parseServersState(''), /\(empty answer\)/);
  assert.throws(() => parseServersState('1\n# be_name srv_name\napp web1\n'), /no column srv_addr/);
  const broken = SERVERS_STATE.replace('3 app 3 web3 127.0.0.1 2 0', '3 app 3 web3 127.0.0.1 x 0');
  assert.throws(() => parseServersState(broken), /srv_op_state is 'x'/);
});

test('parseStatCsv gives sessions, queue and status of server rows only', () => {
  const rows = parseStatCsv(STAT);
  assert.deepEqual(
    rows.map((row) => [row.name, row.sessions, row.queued, row.status, row.checkStatus]),
    [
      ['web1', 2, 0, 'DRAIN', 'L7OK'],
      ['web2', 0, 1, 'MAINT', ''],
      ['web3', 0, 0, 'UP 1/2', 'L7OK'],
      ['web4', 0, 0, 'no check', ''],
    ],
  );
  assert.ok(rows.every((row) => row.backend === 'app'));
});

test("parseStatCsv gives each checked server's last check code, rise and fall", () => {
  const rows = parseStatCsv(STAT);
  assert.deepEqual(
    rows.map((row) => [row.name, row.checkCode, row.rise, row.fall]),
    [
      ['web1', '200', 3, 2],
      ['web2', '', 3, 2],
      ['web3', '200', 3, 2],
      // No checks: HAProxy leaves check_rise and check_fall empty.
      ['web4', '', undefined, undefined],
    ],
  );
  const [old] = parseStatCsv('# pxname,svname,scur,qcur,status,check_status\napp,web1,0,0,UP,L7OK\n');
  assert.deepEqual([old!.checkCode, old!.rise, old!.fall], ['', undefined, undefined]);
});

test('parseStatCsv refuses error answers and malformed counters', () => {
  assert.throws(() => parseStatCsv('No such proxy.\n\n'), /unexpected answer to 'show stat': No such proxy\./);
  assert.throws(() => parseStatCsv('# pxname,svname,status\napp,web1,UP\n'), /no column scur/);
  const broken = STAT.replace('app,web1,0,0,2,', 'app,web1,0,0,-1,');
  assert.throws(() => parseStatCsv(broken), /scur is '-1' for server web1/);
});

test('parseRuntimeApi reads TCP addresses', () => {
  assert.deepEqual(parseRuntimeApi('127.0.0.1:9999'), { kind: 'tcp', host: '127.0.0.1', port: 9999 });
  assert.deepEqual(parseRuntimeApi('ipv4@127.0.0.1:9999'), { kind: 'tcp', host: '127.0.0.1', port: 9999 });
  assert.deepEqual(parseRuntimeApi(' lb1.internal:9999 '), { kind: 'tcp', host: 'lb1.internal', port: 9999 });
  assert.deepEqual(parseRuntimeApi('ipv6@[::1]:9999'), { kind: 'tcp', host: '::1', port: 9999 });
});

test('parseRuntimeApi reads local unix sockets', () => {
  assert.deepEqual(parseRuntimeApi('/run/haproxy/admin.sock'), { kind: 'unix', path: '/run/haproxy/admin.sock' });
  assert.deepEqual(parseRuntimeApi('unix@/var/lib/haproxy/stats'), { kind: 'unix', path: '/var/lib/haproxy/stats' });
});

test('parseRuntimeApi reads sockets on the LB host reached through SSH', () => {
  assert.deepEqual(parseRuntimeApi('ssh://deploy@lb1:2222/run/haproxy/admin.sock'), {
    kind: 'ssh',
    user: 'deploy',
    host: 'lb1',
    port: 2222,
    path: '/run/haproxy/admin.sock',
  });
  assert.deepEqual(parseRuntimeApi('ssh://lb1.example.com/run/haproxy/admin.sock'), { kind: 'ssh', host: 'lb1.example.com', path: '/run/haproxy/admin.sock' });
  assert.deepEqual(parseRuntimeApi('ssh://root@[::1]/tmp/a.sock'), { kind: 'ssh', user: 'root', host: '::1', path: '/tmp/a.sock' });
});

test('parseRuntimeApi rejects what it cannot read, saying which forms it takes', () => {
  for (const bad of ['', 'lb1', '127.0.0.1:0', '127.0.0.1:70000', 'unix@', 'ssh://lb1', 'ssh://lb1/', 'http://lb1:9999/']) {
    assert.throws(
      () => parseRuntimeApi(bad),
      (error: unknown) => error instanceof LoadBalancerError && /expected one of .*ssh:\/\/\[user@\]lbhost/.test(error.message),
      `accepted ${JSON.stringify(bad)}`,
    );
  }
});

test('parseRuntimeApi refuses a password in an ssh:// address and keeps it out of the message', () => {
  assert.throws(
    () => parseRuntimeApi('ssh://deploy:hunter2@lb1/run/haproxy/admin.sock'),
    (error: unknown) => error instanceof LoadBalancerError && /password/.test(error.message) && !error.message.includes('hunter2'),
  );
});

test('describeEndpoint names every form the way the config writes it', () => {
  for (const text of ['127.0.0.1:9999', 'unix@/run/haproxy/admin.sock', 'ssh://deploy@lb1:2222/run/haproxy/admin.sock', 'ssh://lb1/run/a.sock', '[::1]:9999']) {
    assert.equal(describeEndpoint(parseRuntimeApi(text)), text);
  }
});

test('server and backend names that could smuggle a second runtime API command are refused', () => {
  assertHaproxyName('server', 'web-1.a_b:2');
  for (const bad of ['web1; set server app/web2 state maint', 'web1\nshow info', '', 'web 1']) {
    assert.throws(() => assertHaproxyName('server', bad), LoadBalancerError);
  }
});

test('parseStatCsv reads the response counters canary analysis compares, by column name; without req_tot the hrsp_* sum stands in', () => {
  const header = '# pxname,svname,qcur,scur,econ,eresp,wretr,status,check_status,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,req_tot,srv_abrt';
  const [row] = parseStatCsv(`${header}\napp,web1,0,0,3,2,1,UP,L7OK,0,180,5,4,11,0,200,1\n`);
  assert.deepEqual(row!.counters, { requests: 200, http5xx: 11, eresp: 2, econ: 3, wretr: 1, srvAbrt: 1 });
  const older = header.replace(',req_tot', '');
  const [withoutReqTot] = parseStatCsv(`${older}\napp,web1,0,0,3,2,1,UP,L7OK,0,180,5,4,11,0,1\n`);
  assert.equal(withoutReqTot!.counters.requests, 200);
  const [none] = parseStatCsv('# pxname,svname,qcur,scur,status,check_status\napp,web1,0,0,UP,L7OK\n');
  assert.deepEqual(none!.counters, { requests: 0, http5xx: 0, eresp: 0, econ: 0, wretr: 0, srvAbrt: 0 });
});

test('with a RowCache, a line unchanged since the last answer gives the same row again; a changed line or another header is parsed anew', () => {
  const cache = new RowCache<ReturnType<typeof parseStatCsv>[number]>();
  const first = parseStatCsv(STAT, cache);
  const again = parseStatCsv(STAT.replace('app,web2,1,1,0,2,', 'app,web2,1,1,0,3,'), cache);
  assert.deepEqual(again, parseStatCsv(STAT.replace('app,web2,1,1,0,2,', 'app,web2,1,1,0,3,')), 'the same rows as without the cache');
  assert.equal(again[0], first[0], 'web1 did not change: its row is taken again');
  assert.notEqual(again[1], first[1], 'web2 changed: parsed anew');
  const states = new RowCache<ReturnType<typeof parseServersState>[number]>();
  const before = parseServersState(SERVERS_STATE, states);
  const otherHeader = SERVERS_STATE.replace('srv_agent_port', 'srv_agent_port2');
  const after = parseServersState(otherHeader, states);
  assert.deepEqual(after, before);
  assert.notEqual(after[0], before[0], 'another header: nothing is taken from the last answer');
  assert.throws(() => parseServersState(SERVERS_STATE.replace('3 app 1 web1 127.0.0.1 2 8', '3 app 1 web1 127.0.0.1 x 8'), states), /srv_op_state is 'x'/);
});
