-- The minimal submission transaction (issue 25): take the call's next protocol number,
-- mark one application submitted, record the change in its history, commit.
-- wg_bench.py runs it with `pgbench -n -M prepared` and search_path = bench_copy, public:
-- on copies of protocol_counters, applications and application_history (indexes,
-- defaults, checks and foreign keys included) in the schema bench_copy, dropped afterwards,
-- so that the benchmark's own rows, and its gap-free numbers, are never touched.
-- Variables, given with -D:
--   :call_id  the rush's call (its counter row was copied with the rest)
--   :prefix   the protocol numbers' prefix ("<call code>-")
--   :napps    the copied applications, whose ids are 1 .. napps written as uuids
--   :user_id  the actor of the history row
\set k random(1, :napps)
BEGIN;
INSERT INTO protocol_counters (call_id, last_value) VALUES (:call_id::uuid, 1)
  ON CONFLICT (call_id) DO UPDATE SET last_value = protocol_counters.last_value + 1
  RETURNING last_value \gset
UPDATE applications SET status = 'submitted', protocol_number = :prefix::text || lpad(:last_value::text, 6, '0'),
  submitted_at = now(), review_status = 'pending', version = version + 1, updated_at = now()
  WHERE id = lpad(to_hex(:k::bigint), 32, '0')::uuid;
INSERT INTO application_history (id, application_id, from_status, to_status, at, actor_id, actor_role, reason)
  VALUES (gen_random_uuid(), lpad(to_hex(:k::bigint), 32, '0')::uuid, 'draft', 'submitted', now(), :user_id::uuid, 'applicant', NULL);
END;
