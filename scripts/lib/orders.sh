# Shared by scripts/demo and scripts/faults: the order sample's data, its order mix, and
# the business invariants. Source it after defining: dsn, sagactl (a function), and
# optionally failures=0.
# shellcheck shell=bash

export PGOPTIONS="-c client_min_messages=warning"
sql() { psql "$dsn" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }

# Waits until "$@" succeeds, at most $1 seconds.
wait_for() {
  local limit=$1; shift
  local until=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || { echo "timed out waiting for: $*" >&2; return 1; }
    sleep 0.2
  done
}

# Products, accounts and regions, and a snapshot of stock and money to check against.
seed_order_data() {
  sql "
INSERT INTO inventory.products VALUES ('sku-book', 100000), ('sku-pen', 100000), ('sku-lamp', 100000), ('sku-rare', 3)
  ON CONFLICT (sku) DO UPDATE SET stock = excluded.stock;
INSERT INTO payment.accounts SELECT 'c-' || g, 1000000 FROM generate_series(1, 20) g
  ON CONFLICT (customer) DO UPDATE SET balance = excluded.balance;
INSERT INTO payment.accounts VALUES ('c-broke', 5) ON CONFLICT (customer) DO UPDATE SET balance = 5;
INSERT INTO payment.accounts VALUES ('c-fraud', 1000000) ON CONFLICT (customer) DO UPDATE SET balance = 1000000;
INSERT INTO risk.blocked_customers VALUES ('c-fraud') ON CONFLICT DO NOTHING;
INSERT INTO payment.accounts VALUES ('c-blocked', 1000000, true)
  ON CONFLICT (customer) DO UPDATE SET balance = 1000000, refunds_blocked = true;
INSERT INTO logistics.regions VALUES ('north', true), ('south', true), ('east', true), ('west', true), ('atlantis', false)
  ON CONFLICT (name) DO NOTHING;
CREATE SCHEMA IF NOT EXISTS demo;
DROP TABLE IF EXISTS demo.initial_stock, demo.initial_money;
CREATE TABLE demo.initial_stock AS SELECT sku, stock FROM inventory.products;
CREATE TABLE demo.initial_money AS SELECT sum(balance) AS total FROM payment.accounts;"
}

# Orders above this amount are fraud-checked (workflows/order_fulfilment.hpp, kFraudCheckAbove).
fraud_limit=1200

# The input of order i. Amounts vary from 1000 to 1600, so about half are fraud-checked.
# One in ten is out of stock, declined, undeliverable (its shipment fails inside the
# parallel group) or from a blocked customer (its fraud check fails) each. With
# faults=1 also: one in fifty is charged to an account whose refunds are blocked and is
# undeliverable (its compensation fails for good: the saga ends failed until someone
# unblocks the account and retries), one in twenty-five has a SQL-shaped order id, and
# one in forty a quantity written as a string (it fails for good at its first step).
order_input() {
  local i=$1 faults=${2:-0} regions=(north south east west)
  local sku=sku-book customer="c-$(( i % 20 + 1 ))" region=${regions[$(( i % 4 ))]} qty=$(( i % 3 + 1 ))
  local id="order-$i" amount=$(( 1000 + (i % 7) * 100 ))
  case $(( i % 10 )) in
    6) customer=c-fraud; amount=5000 ;;  # large, so fraud-checked, and its customer is blocked
    7) sku=sku-rare; qty=2 ;;       # the first one gets the stock, the rest are out of stock
    8) customer=c-broke ;;          # declined
    9) region=atlantis ;;           # undeliverable
  esac
  if [ "$faults" = 1 ]; then
    [ $(( i % 50 )) = 13 ] && { customer=c-blocked; region=atlantis; }
    [ $(( i % 25 )) = 11 ] && id="order-$i'); DROP TABLE inventory.products; --"
    [ $(( i % 40 )) = 21 ] && qty="\"$qty\""  # malformed: the handler's invalid_argument is permanent
  fi
  echo "{\"order_id\":\"$id\",\"customer\":\"$customer\",\"items\":[{\"sku\":\"$sku\",\"qty\":$qty},{\"sku\":\"sku-pen\",\"qty\":1}],\"amount\":$amount,\"region\":\"$region\"}"
}

# With faults=1, order i is an order_pair when i % 25 = 17: two orders as child sagas,
# whose ids are pair-<i>01 and pair-<i>0N. The first is a plain order; the second is
# declined for half of the pairs (so the completed first is compensated with its parent).
is_pair() { [ "${2:-0}" = 1 ] && [ $(( $1 % 25 )) = 17 ]; }
pair_input() {
  local i=$1 first second
  first=$(order_input $(( i * 100 + 1 )))
  second=$(order_input $(( i * 100 + (i % 10 == 7 ? 8 : 5) )))
  echo "{\"first\":${first/\"order-/\"pair-},\"second\":${second/\"order-/\"pair-}}"
}

# With faults=1, order i is a partner_order (its charge is the pivot) when i % 15 = 4: the
# ones to the undeliverable region (i % 10 = 9) park at their shipment past the pivot.
is_partner() { [ "${2:-0}" = 1 ] && [ $(( $1 % 15 )) = 4 ]; }

# Starts order i, retrying while sagad is away (killed on purpose): the business key
# makes a retry return the saga the first try created.
start_order() {
  local i=$1 faults=${2:-0} tries=0 input workflow=order_fulfilment key
  if is_pair "$i" "$faults"; then
    workflow=order_pair; input=$(pair_input "$i"); key="pair-$i"
  else
    input=$(order_input "$i" "$faults"); key=$(jq_field "$input")
    is_partner "$i" "$faults" && workflow=partner_order
  fi
  until sagactl --timeout-ms 2000 start "$workflow" --input "$input" --key "$key" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 600 ] || { echo "could not start order $i" >&2; return 1; }
    sleep 0.1
  done
}
jq_field() { sed -E 's/^\{"order_id":"([^"]*)".*/\1/' <<<"$1"; }

check() {  # check NAME SQL-returning-0-when-ok
  local got; got=$(sql "$2")
  if [ "$got" = 0 ]; then echo "  ok    $1"; else echo "  FAIL  $1 ($got)"; failures=$((failures + 1)); fi
}

# The business invariants of the order sample.
order_invariants() {
  check "every saga is terminal" "SELECT count(*) FROM sagas WHERE state_code NOT IN (3, 4)"
  check "stock is conserved: initial = current + reserved by completed orders" "
    SELECT count(*) FROM demo.initial_stock i JOIN inventory.products p USING (sku)
    WHERE i.stock <> p.stock + coalesce((SELECT sum((it->>'qty')::int) FROM inventory.reservations r
                                         JOIN sagas s ON s.id = r.saga_id AND s.state_code = 3,
                                         jsonb_array_elements(r.items) it WHERE it->>'sku' = p.sku), 0)"
  check "only completed orders hold reservations" "
    SELECT count(*) FROM inventory.reservations r JOIN sagas s ON s.id = r.saga_id
    WHERE (NOT r.released) <> (s.state_code = 3)"
  check "money is conserved: initial = balances + charges of completed orders" "
    SELECT count(*) FROM demo.initial_money m
    WHERE m.total <> (SELECT sum(balance) FROM payment.accounts)
                   + (SELECT coalesce(sum(c.amount), 0) FROM payment.charges c JOIN sagas s ON s.id = c.saga_id
                      WHERE NOT c.refunded AND s.state_code = 3)
       OR EXISTS (SELECT 1 FROM payment.charges c JOIN sagas s ON s.id = c.saga_id
                  WHERE (NOT c.refunded) <> (s.state_code = 3))"
  check "no compensated order has a shipment" "
    SELECT count(*) FROM logistics.shipments sh JOIN sagas s ON s.id = sh.saga_id
    WHERE s.state_code = 4 AND sh.status = 'created'"
  check "every completed order has exactly one shipment" "
    SELECT count(*) FROM sagas s WHERE s.state_code = 3 AND s.workflow = 'order_fulfilment'
      AND (SELECT count(*) FROM logistics.shipments sh WHERE sh.saga_id = s.id AND sh.status = 'created') <> 1"
  check "no compensated order has an issued invoice" "
    SELECT count(*) FROM billing.invoices b JOIN sagas s ON s.id = b.saga_id WHERE s.state_code = 4 AND b.status = 'issued'"
  check "every completed order has exactly one issued invoice" "
    SELECT count(*) FROM sagas s WHERE s.state_code = 3 AND s.workflow_version >= 2
      AND (SELECT count(*) FROM billing.invoices b WHERE b.saga_id = s.id AND b.status = 'issued') <> 1"
  check "only orders above the limit were fraud-checked" "
    SELECT count(*) FROM risk.checks c JOIN sagas s ON s.id = c.saga_id WHERE (s.input->>'amount')::int <= $fraud_limit"
  check "every completed order above the limit was fraud-checked" "
    SELECT count(*) FROM sagas s WHERE s.state_code = 3 AND s.workflow_version >= 2
      AND (s.input->>'amount')::int > $fraud_limit AND NOT EXISTS (SELECT 1 FROM risk.checks c WHERE c.saga_id = s.id)"
  check "a failed fraud check charged nothing and shipped nothing" "
    SELECT count(*) FROM sagas s WHERE s.failure_reason LIKE '%fraud suspected%'
      AND (EXISTS (SELECT 1 FROM payment.charges c WHERE c.saga_id = s.id)
           OR EXISTS (SELECT 1 FROM logistics.shipments sh WHERE sh.saga_id = s.id))"
  check "every path was taken (small, fraud-checked, out of stock, declined, failed shipment, failed fraud check, payment never confirmed)" "
    SELECT 7 - count(DISTINCT path) FROM (SELECT $path_sql AS path FROM sagas) p
    WHERE path NOT IN ('compensated by hand', 'malformed order', 'other')"
  check "a malformed order failed for good at its first step, with nothing done" "
    SELECT count(*) FROM sagas s WHERE s.failure_reason LIKE '%must be an integer%'
      AND (s.state_code <> 4 OR s.failure_reason NOT LIKE '%reserve_inventory%'
           OR EXISTS (SELECT 1 FROM inventory.reservations r WHERE r.saga_id = s.id))"
}

# The path a saga took, by name (for the summary and the check that every path was taken).
path_sql="CASE WHEN state_code = 3 AND (nodes->'nodes'->'fraud_check'->>'s')::int = 3 THEN 'fraud-checked order'
               WHEN state_code = 3 THEN 'small order'
               WHEN failure_reason LIKE '%fraud suspected%' THEN 'failed fraud check'
               WHEN failure_reason LIKE '%declined%' THEN 'declined payment'
               WHEN failure_reason LIKE '%out of stock%' THEN 'out of stock'
               WHEN failure_reason LIKE '%undeliverable%' THEN 'failed shipment inside the group'
               WHEN failure_reason LIKE '%must be an integer%' THEN 'malformed order'
               WHEN failure_reason LIKE '%payment_confirmed%passed its deadline%' THEN 'payment never confirmed'
               WHEN failure_reason LIKE 'manual compensation%' THEN 'compensated by hand'
               ELSE 'other' END"

# Every handler run that committed, from the services' effects ledgers.
effects_sql="(SELECT saga_id, step_index, phase, action FROM inventory.effects
              UNION ALL SELECT saga_id, step_index, phase, action FROM payment.effects
              UNION ALL SELECT saga_id, step_index, phase, action FROM logistics.effects
              UNION ALL SELECT saga_id, step_index, phase, action FROM risk.effects
              UNION ALL SELECT saga_id, step_index, phase, action FROM billing.effects)"
# The steps (node ids, which name their forward actions) and the ones without an undo.
step_ids="'reserve_inventory', 'fraud_check', 'charge_payment', 'create_shipment', 'issue_invoice'"
no_undo="'fraud_check'"
# (saga, step, phase) with more than one committed handler run.
duplicated_sql="SELECT count(*) FROM (SELECT 1 FROM $effects_sql e GROUP BY saga_id, step_index, phase HAVING count(*) > 1) d"
# Effects that should exist and do not: a step sagad recorded done in a completed saga that
# never committed, or a committed step of a compensated saga that was never undone.
# (A node an operator skipped was done by hand: it has no effect of its own.)
lost_sql="SELECT (SELECT count(*) FROM sagas s, jsonb_each(s.nodes->'nodes') n
                  WHERE s.state_code = 3 AND n.key IN ($step_ids) AND (n.value->>'s')::int = 3
                    AND NOT EXISTS (SELECT 1 FROM $effects_sql e WHERE e.saga_id = s.id AND e.action = n.key AND e.phase = 1)
                    AND NOT EXISTS (SELECT 1 FROM saga_events h, jsonb_array_elements(h.events) x
                                    WHERE h.saga_id = s.id AND x->>'kind' = 'skip_requested' AND x->>'node' = n.key))
              + (SELECT count(*) FROM sagas s JOIN $effects_sql f ON f.saga_id = s.id AND f.phase = 1
                 WHERE s.state_code = 4 AND f.action NOT IN ($no_undo) AND NOT EXISTS
                   (SELECT 1 FROM $effects_sql e WHERE e.saga_id = s.id AND e.step_index = f.step_index AND e.phase = 2))"
# Effects off the saga's path: a committed step of a completed saga that sagad did not walk.
off_path_sql="SELECT count(*) FROM sagas s JOIN $effects_sql f ON f.saga_id = s.id AND f.phase = 1
              WHERE s.state_code = 3 AND coalesce((s.nodes->'nodes'->f.action->>'s')::int, 1) <> 3"
# Undos that ran with nothing to undo (the inbox answers those without the handler).
undo_without_forward_sql="SELECT count(*) FROM $effects_sql c WHERE c.phase = 2 AND NOT EXISTS
  (SELECT 1 FROM $effects_sql f WHERE f.saga_id = c.saga_id AND f.step_index = c.step_index AND f.phase = 1)"

# The waits of order_fulfilment v3, against the payment provider's log ($1): what it
# confirmed, confirmed twice and withheld, and what the sagas made of it. (The provider
# also confirms partner orders' charges; those sagas wait for no signal and refuse it.)
wait_invariants() {
  local log=$1 withheld twice
  withheld=$(grep -o 'confirmation_withheld order_id=[^ ]* saga_id=[0-9a-f-]*' "$log" | sed 's/.*saga_id=//' | sort -u)
  twice=$(grep 'outcome=already_applied' "$log" | grep -o 'saga_id=[0-9a-f-]*' | sed 's/saga_id=//' | sort -u)
  local w_list t_list
  w_list=$(sed "s/.*/'&'/" <<<"$withheld" | paste -sd, -); t_list=$(sed "s/.*/'&'/" <<<"$twice" | paste -sd, -)
  echo "  the provider withheld $(wc -w <<<"$withheld") confirmations and sent $(wc -w <<<"$twice") twice"
  check "the provider confirmed some orders twice, and sagad answered the second one already_applied" \
    "SELECT CASE WHEN $(wc -w <<<"$twice") > 0 THEN 0 ELSE 1 END"
  check "some orders were never confirmed" "SELECT CASE WHEN $(wc -w <<<"$withheld") > 0 THEN 0 ELSE 1 END"
  check "every order never confirmed was compensated when its deadline passed, its charge refunded" "
    SELECT count(*) FROM sagas s WHERE s.id IN (${w_list:-NULL}) AND s.workflow = 'order_fulfilment'
      AND (s.state_code <> 4 OR s.failure_reason NOT LIKE '%payment_confirmed%passed its deadline%'
           OR EXISTS (SELECT 1 FROM payment.charges c WHERE c.saga_id = s.id AND NOT c.refunded))"
  check "an order confirmed twice took one confirmation" "
    SELECT count(*) FROM sagas s WHERE s.id IN (${t_list:-NULL}) AND s.workflow = 'order_fulfilment'
      AND (SELECT count(*) FROM saga_signals g WHERE g.saga_id = s.id AND g.name = 'payment_confirmed') <> 1"
  check "every completed v3 order took exactly one confirmation, whose data is in its context" "
    SELECT count(*) FROM sagas s WHERE s.workflow_version = 3 AND s.state_code = 3
      AND ((SELECT count(*) FROM saga_signals g WHERE g.saga_id = s.id AND g.consumed_by = 'payment_confirmed') <> 1
           OR s.context->'payment_confirmed'->>'psp_ref' IS NULL)"
  check "large completed v3 orders cooled off before shipping; small ones did not" "
    SELECT count(*) FROM sagas s WHERE s.workflow_version = 3 AND s.state_code = 3
      AND (s.nodes->'nodes'->'cooling_off'->>'s')::int IS DISTINCT FROM
          (CASE WHEN (s.input->>'amount')::int > $fraud_limit THEN 3 ELSE 7 END)"
  check "no saga waits past its deadline, and nothing is left waiting" "
    SELECT count(*) FROM saga_pending p JOIN sagas s ON s.id = p.saga_id WHERE s.state_code IN (3, 4)
       OR (p.kind = 4 AND p.not_before < now() - interval '5 seconds')"
}

# The order pairs (child sagas): each ended whole, its children linked to it and one per
# node, and both outcomes happened, a completed first order compensated with its pair too.
pair_invariants() {
  local pairs="SELECT id, state_code, context FROM sagas WHERE workflow = 'order_pair'"
  echo "  order pairs: $(sql "SELECT count(*) FILTER (WHERE state_code = 3) || ' completed, ' ||
    count(*) FILTER (WHERE state_code = 4) || ' compensated, ' || (SELECT count(*) FROM sagas c JOIN sagas p ON p.id = c.parent_id
    WHERE p.workflow = 'order_pair' AND c.failure_reason LIKE '%its parent saga%') || ' completed first orders compensated with their pair'
    FROM sagas WHERE workflow = 'order_pair'")"
  check "order pairs were started" "SELECT CASE WHEN count(*) > 0 THEN 0 ELSE 1 END FROM ($pairs) p"
  check "a pair is one child saga per node, each linked back to its pair (a resend never made two)" "
    SELECT count(*) FROM ($pairs) p WHERE (SELECT count(*) FROM sagas c WHERE c.parent_id = p.id AND c.parent_node = 'first') <> 1
       OR (SELECT count(*) FROM sagas c WHERE c.parent_id = p.id AND c.parent_node = 'second') > 1
       OR EXISTS (SELECT 1 FROM sagas c WHERE c.parent_id = p.id AND c.business_key <> p.id || '/' || c.parent_node)"
  check "a completed pair has both orders completed, their contexts in its own" "
    SELECT count(*) FROM ($pairs) p WHERE p.state_code = 3
      AND ((SELECT count(*) FROM sagas c WHERE c.parent_id = p.id AND c.state_code = 3) <> 2
           OR p.context->'first'->'payment_confirmed' IS NULL OR p.context->'second'->'payment_confirmed' IS NULL)"
  check "a compensated pair has no order left completed" "
    SELECT count(*) FROM ($pairs) p WHERE p.state_code = 4
      AND EXISTS (SELECT 1 FROM sagas c WHERE c.parent_id = p.id AND c.state_code <> 4)"
  check "pairs both completed, and compensated after their first order completed" "
    SELECT CASE WHEN count(*) FILTER (WHERE p.state_code = 3) > 0 AND count(*) FILTER (WHERE p.state_code = 4
      AND EXISTS (SELECT 1 FROM sagas c WHERE c.parent_id = p.id AND c.parent_node = 'first'
                  AND c.failure_reason LIKE '%its parent saga%compensates%')) > 0 THEN 0 ELSE 1 END FROM ($pairs) p"
}

ledger_invariants() {
  check "no effect duplicated: each (saga, step, phase) committed at most once" "$duplicated_sql"
  check "no effect lost: completed sagas did every step of their path, compensated ones undid every done step" "$lost_sql"
  check "no effect off the path: a completed saga's committed steps are the ones it walked" "$off_path_sql"
  check "no undo ran for a step that never ran" "$undo_without_forward_sql"
}
