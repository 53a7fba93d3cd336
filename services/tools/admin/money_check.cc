#include "services/tools/admin/money_check.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/core/clock.h"
#include "services/core/status_macros.h"
#include "services/policy/markets.h"
#include "services/policy_file/policy_document.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/tools/admin/refund_record.h"

namespace makegood::admin {
namespace {

using Json = nlohmann::ordered_json;
using redis::RedisReply;

// Objects read per pipelined batch.
constexpr size_t kBatch = 200;
// Entries listed in the report's attention lists (their counts are exact).
constexpr size_t kMaxListed = 1000;

// The currency an account is kept in: the part after its last ':'.
std::string CurrencyOf(absl::string_view account) {
  const size_t colon = account.rfind(':');
  return colon == absl::string_view::npos
             ? std::string()
             : std::string(account.substr(colon + 1));
}

// An order hash found by SCAN, with its partition and order id.
struct FoundOrder {
  std::string key;
  int partition = 0;
  std::string id;
};

bool IsFinalPaid(absl::string_view state) {
  return state == "SUCCEEDED" || state == "REVERSED";
}

class MoneyCheck {
 public:
  MoneyCheck(BlockingRedis& redis, const store::KeySchema& keys,
             const Options& options, const Providers& providers)
      : redis_(redis),
        keys_(keys),
        options_(options),
        providers_(providers),
        now_ms_(absl::ToUnixMillis(RealClock().Now())) {}

  absl::Status Run() {
    if (!options_.policy_path.empty()) {
      MAKEGOOD_ASSIGN_OR_RETURN(
          policy_file::PolicySnapshot policy,
          policy_file::LoadPolicyFile(options_.policy_path, RealClock().Now()));
      policy_version_ = policy.version;
      served_ = policy::ServedCurrencies(policy.engine->config());
    }
    for (int p = 0; p < keys_.partitions(); ++p) {
      MAKEGOOD_RETURN_IF_ERROR(CheckLedger(p));
    }
    MAKEGOOD_RETURN_IF_ERROR(redis_.Scan(store::KeySchema::AllOrdersPattern(),
                                         "hash",
                                         [this](std::vector<std::string> keys) {
                                           return CheckOrders(FindOrders(keys));
                                         }));
    MAKEGOOD_RETURN_IF_ERROR(redis_.Scan(
        store::KeySchema::AllRefundsPattern(), "hash",
        [this](std::vector<std::string> keys) {
          return CheckRefunds(FindRefunds(keys, keys_.partitions()));
        }));
    CheckHttpPayouts();
    return CheckOutbox();
  }

  bool clean() const { return violations_.empty(); }

  Json Report() const {
    Json counts = {{"ledger_entries", ledger_entries_},
                   {"ledger_accounts", ledger_accounts_},
                   {"orders", orders_},
                   {"refunds", refunds_},
                   {"refunds_by_state", Json(refunds_by_state_)},
                   {"payouts_verified", payouts_verified_},
                   {"http_unchecked", http_unchecked_count_},
                   {"orders_changing", orders_changing_},
                   {"orders_by_currency", Json(orders_by_currency_)},
                   {"violations", violations_.size()}};
    Json by_partition = Json::array();
    int64_t backlog = 0, pending = 0, dead = 0;
    for (const Json& p : outbox_) {
      backlog += p["backlog"].get<int64_t>();
      pending += p["pending"].get<int64_t>();
      dead += p["dead_letters"].get<int64_t>();
      if (p["backlog"] != 0 || p["pending"] != 0 || p["dead_letters"] != 0) {
        by_partition.push_back(p);
      }
    }
    return Json{
        {"command", "check"},
        {"ok", clean()},
        {"partitions", keys_.partitions()},
        {"at_ms", now_ms_},
        {"counts", counts},
        {"violations", violations_},
        {"attention",
         {{"stale_after_ms", absl::ToInt64Milliseconds(options_.stale_after)},
          {"stale_count", stale_count_},
          {"stale", stale_},
          {"needs_attention_count", attention_count_},
          {"needs_attention", attention_},
          {"http_unchecked", http_unchecked_}}},
        {"currencies",
         {{"policy", options_.policy_path},
          {"policy_version", policy_version_},
          {"served", served_},
          {"unserved_count", unserved_count_},
          {"unserved", unserved_}}},
        {"outbox",
         {{"backlog", backlog},
          {"pending", pending},
          {"dead_letters", dead},
          {"by_partition", by_partition}}}};
  }

 private:
  void Violation(Json v) { violations_.push_back(std::move(v)); }

  static void List(Json& list, Json item) {
    if (list.size() < kMaxListed) list.push_back(std::move(item));
  }

  // 1. The ledger of partition `p`: Σ per currency is 0 and the stream
  // replays to the balances.
  absl::Status CheckLedger(int p) {
    const std::string balances_key = keys_.LedgerBalancesKey(p);
    const std::string ledger_key = keys_.LedgerKey(p);
    MAKEGOOD_ASSIGN_OR_RETURN(
        auto snapshot, redis_.Snapshots({{{"HGETALL", balances_key},
                                          {"XREVRANGE", ledger_key, "+", "-",
                                           "COUNT", "1"}}}));
    const std::map<std::string, std::string> balances = Fields(snapshot[0][0]);
    const RedisReply& last = snapshot[0][1];
    std::map<std::string, int64_t> replayed;
    txns_.clear();
    if (!last.elements.empty() && !last.elements[0].elements.empty()) {
      const std::string until = last.elements[0].elements[0].str;
      std::string from = "-";
      while (true) {
        MAKEGOOD_ASSIGN_OR_RETURN(
            RedisReply page,
            redis_.Run({"XRANGE", ledger_key, from, until, "COUNT", "1000"}));
        for (const RedisReply& entry : page.elements) {
          if (entry.elements.size() < 2) continue;
          ++ledger_entries_;
          Replay(p, ledger_key, entry.elements[0].str,
                 Fields(entry.elements[1]), replayed);
        }
        if (page.elements.size() < 1000) break;
        from = absl::StrCat("(", page.elements.back().elements[0].str);
      }
    }
    CheckTxnAccounts(p, ledger_key);
    std::map<std::string, int64_t> sums;  // By currency.
    for (const auto& [account, text] : balances) {
      ++ledger_accounts_;
      int64_t balance = 0;
      if (!absl::SimpleAtoi(text, &balance)) {
        Violation({{"check", "ledger_balance_malformed"},
                   {"partition", p},
                   {"account", account},
                   {"value", text},
                   {"keys", {balances_key}}});
        continue;
      }
      sums[CurrencyOf(account)] += balance;
      auto found = replayed.find(account);
      const int64_t expected = found == replayed.end() ? 0 : found->second;
      if (balance != expected) {
        Violation({{"check", "ledger_replay"},
                   {"partition", p},
                   {"account", account},
                   {"balance", balance},
                   {"replayed", expected},
                   {"keys", {balances_key, ledger_key}}});
      }
    }
    for (const auto& [account, value] : replayed) {
      if (!balances.contains(account) && value != 0) {
        Violation({{"check", "ledger_replay"},
                   {"partition", p},
                   {"account", account},
                   {"balance", nullptr},
                   {"replayed", value},
                   {"keys", {balances_key, ledger_key}}});
      }
    }
    for (const auto& [currency, sum] : sums) {
      if (sum != 0) {
        Violation({{"check", "ledger_balance_sum"},
                   {"partition", p},
                   {"currency", currency},
                   {"sum", sum},
                   {"keys", {balances_key}}});
      }
    }
    return absl::OkStatus();
  }

  void Replay(int p, const std::string& ledger_key, const std::string& id,
              const std::map<std::string, std::string>& e,
              std::map<std::string, int64_t>& replayed) {
    auto get = [&e](const char* f) {
      auto it = e.find(f);
      return it == e.end() ? std::string() : it->second;
    };
    int64_t amount = 0;
    const std::string debit = get("debit"), credit = get("credit"),
                      currency = get("currency");
    if (debit.empty() || credit.empty() ||
        !absl::SimpleAtoi(get("amount_minor"), &amount) ||
        CurrencyOf(debit) != currency || CurrencyOf(credit) != currency) {
      Violation({{"check", "ledger_entry_malformed"},
                 {"partition", p},
                 {"entry_id", id},
                 {"txn", get("txn")},
                 {"keys", {ledger_key}}});
      return;
    }
    replayed[debit] += amount;
    replayed[credit] -= amount;
    Txn& txn = txns_[get("txn")];
    const std::string kind = get("kind");
    if (kind == "refund_accepted" || kind == "goodwill_granted") {
      txn.accepted += amount;
    }
    auto note = [&txn](const std::string& account, int64_t signed_amount) {
      if (absl::StartsWith(account, "expense:")) {
        txn.expense.insert(account);
        txn.expense_net += signed_amount;
      } else if (absl::StartsWith(account, "payable:")) {
        txn.payable.insert(account);
        txn.payable_net += signed_amount;
      }
    };
    note(debit, amount);
    note(credit, -amount);
  }

  // Per refund (a ledger txn): every posting after the acceptance — settled,
  // failed, reversed — uses the accepted posting's expense and payable
  // accounts, so each txn names one of each; and what it leaves on them is
  // what a refund can leave: the expense booked (paid or on its way) or
  // undone (failed, reversed), the payable owed (not settled yet) or not.
  // A reversal to another account (goodwill reversed to expense:refunds, a
  // wallet fallback reversed to expense:refunds:wallet) sums to zero overall
  // and only shows here.
  void CheckTxnAccounts(int p, const std::string& ledger_key) {
    for (const auto& [id, t] : txns_) {
      std::string problem;
      if (t.expense.size() > 1 || t.payable.size() > 1) {
        std::vector<std::string> accounts(t.expense.begin(), t.expense.end());
        accounts.insert(accounts.end(), t.payable.begin(), t.payable.end());
        std::sort(accounts.begin(), accounts.end());
        problem = absl::StrCat(
            "postings use more than one expense or payable account (",
            absl::StrJoin(accounts, ", "),
            "): every posting must use the accepted posting's accounts");
      } else if ((t.expense_net != 0 && t.expense_net != t.accepted) ||
                 (t.payable_net != 0 && t.payable_net != -t.accepted)) {
        problem = absl::StrCat(
            "postings leave ", t.expense_net, " on the expense and ",
            t.payable_net, " on the payable of an acceptance of ", t.accepted);
      }
      if (!problem.empty()) {
        Violation({{"check", "ledger_txn_accounts"},
                   {"partition", p},
                   {"txn", id},
                   {"problem", problem},
                   {"keys", {ledger_key}}});
      }
    }
    txns_.clear();
  }

  // 2. Orders: money refunds that stand fit the total and match the order's
  // refunded_minor.
  absl::Status CheckOrders(const std::vector<FoundOrder>& found) {
    for (size_t at = 0; at < found.size(); at += kBatch) {
      std::vector<FoundOrder> batch(
          found.begin() + at,
          found.begin() + std::min(found.size(), at + kBatch));
      // The refund ids are read first, then everything again in one block;
      // an order whose refunds changed in between is read again.
      for (int attempt = 0; !batch.empty(); ++attempt) {
        if (attempt == 5) {
          orders_changing_ += static_cast<int64_t>(batch.size());
          break;
        }
        std::vector<Argv> ranges;
        for (const FoundOrder& order : batch) {
          ranges.push_back({"ZRANGE", IndexKey(order), "0", "-1"});
        }
        std::vector<std::vector<std::string>> ids;
        for (auto& reply : redis_.Pipeline(std::move(ranges))) {
          if (!reply.ok()) return reply.status();
          std::vector<std::string> list;
          for (const RedisReply& id : reply->elements) list.push_back(id.str);
          ids.push_back(std::move(list));
        }
        std::vector<std::vector<Argv>> blocks;
        for (size_t i = 0; i < batch.size(); ++i) {
          std::vector<Argv> block = {{"HMGET", batch[i].key, "total_minor",
                                      "refunded_minor", "currency"},
                                     {"ZRANGE", IndexKey(batch[i]), "0", "-1"}};
          for (const std::string& id : ids[i]) {
            block.push_back({"HMGET", keys_.RefundKey(batch[i].partition, id),
                             "state", "amount_minor", "instrument",
                             "currency"});
          }
          blocks.push_back(std::move(block));
        }
        MAKEGOOD_ASSIGN_OR_RETURN(auto snapshots,
                                  redis_.Snapshots(std::move(blocks)));
        std::vector<FoundOrder> changed;
        for (size_t i = 0; i < batch.size(); ++i) {
          const auto& s = snapshots[i];
          std::vector<std::string> now_ids;
          for (const RedisReply& id : s[1].elements) now_ids.push_back(id.str);
          if (now_ids != ids[i]) {
            changed.push_back(batch[i]);
            continue;
          }
          CheckOrder(batch[i], s[0], ids[i],
                     std::vector<RedisReply>(s.begin() + 2, s.end()));
        }
        batch = std::move(changed);
      }
    }
    return absl::OkStatus();
  }

  // The order hashes among `keys` (one SCAN page) in this deployment's
  // partitions.
  std::vector<FoundOrder> FindOrders(const std::vector<std::string>& keys) {
    std::vector<FoundOrder> out;
    for (const std::string& key : keys) {
      std::optional<int> p = store::KeySchema::PartitionOfKey(key);
      std::optional<std::string> id = store::KeySchema::OrderIdOfKey(key);
      if (!p.has_value() || !id.has_value() || *p >= keys_.partitions()) {
        continue;
      }
      out.push_back({key, *p, *std::move(id)});
    }
    return out;
  }

  // The order's refund ids by time.
  std::string IndexKey(const FoundOrder& order) const {
    return keys_.OrderRefundsKey(order.partition, order.id);
  }

  void CheckOrder(const FoundOrder& found, const RedisReply& order,
                  const std::vector<std::string>& ids,
                  const std::vector<RedisReply>& refunds) {
    const std::string& key = found.key;
    const int p = found.partition;
    ++orders_;
    const std::string& order_id = found.id;
    const std::optional<int64_t> total = Int(At(order, 0));
    const int64_t refunded = Int(At(order, 1)).value_or(0);
    const std::string currency = At(order, 2).value_or("");
    ++orders_by_currency_[currency];
    if (!options_.policy_path.empty() &&
        std::find(served_.begin(), served_.end(), currency) == served_.end()) {
      ++unserved_count_;
      List(unserved_, {{"partition", p},
                       {"order_id", order_id},
                       {"currency", currency},
                       {"keys", {key}}});
    }
    Json keys = {key, IndexKey(found)};
    // Money that stands (paid or on its way), and what the order's counter
    // must hold: that plus reversed refunds, whose reversal (an abusive
    // claim, mark_abusive.lua) takes the money back without giving the
    // order its remainder again.
    int64_t standing = 0, reserved = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const RedisReply& r = refunds[i];
      const std::string refund_key = keys_.RefundKey(p, ids[i]);
      const std::optional<std::string> state = At(r, 0);
      const std::optional<int64_t> amount = Int(At(r, 1));
      const std::string instrument = At(r, 2).value_or("");
      if (!state.has_value() || !amount.has_value()) {
        Violation({{"check", "order_refund_missing"},
                   {"partition", p},
                   {"order_id", order_id},
                   {"refund_id", ids[i]},
                   {"keys", {IndexKey(found), refund_key}}});
        continue;
      }
      const std::string refund_currency = At(r, 3).value_or("");
      if (refund_currency != currency) {
        // Money is counted per currency: a refund in another currency than
        // its order's is never within the order's total.
        Violation({{"check", "order_refund_currency"},
                   {"partition", p},
                   {"order_id", order_id},
                   {"refund_id", ids[i]},
                   {"order_currency", currency},
                   {"refund_currency", refund_currency},
                   {"keys", {key, refund_key}}});
        continue;
      }
      if (instrument != "original_payment" && instrument != "wallet") continue;
      keys.push_back(refund_key);
      if (*state == "FAILED") continue;
      reserved += *amount;
      if (*state != "REVERSED") standing += *amount;
    }
    if (!total.has_value()) {
      Violation({{"check", "order_malformed"},
                 {"partition", p},
                 {"order_id", order_id},
                 {"field", "total_minor"},
                 {"keys", {key}}});
      return;
    }
    if (standing > *total || refunded > *total) {
      Violation({{"check", "order_over_refunded"},
                 {"partition", p},
                 {"order_id", order_id},
                 {"total_minor", *total},
                 {"refunded_minor", refunded},
                 {"refunds_minor", standing},
                 {"keys", keys}});
    }
    if (refunded != reserved) {
      Violation({{"check", "order_refunded_mismatch"},
                 {"partition", p},
                 {"order_id", order_id},
                 {"refunded_minor", refunded},
                 {"refunds_minor", reserved},
                 {"keys", keys}});
    }
  }

  // 3 and 4. Each refund: its payouts and its events, read in one block.
  absl::Status CheckRefunds(const std::vector<FoundRefund>& found) {
    for (size_t at = 0; at < found.size(); at += kBatch) {
      std::vector<FoundRefund> batch(
          found.begin() + at,
          found.begin() + std::min(found.size(), at + kBatch));
      std::vector<std::string> keys;
      for (const FoundRefund& k : batch) keys.push_back(k.key);
      MAKEGOOD_ASSIGN_OR_RETURN(std::vector<std::string> members,
                                MemberIds(redis_, keys));
      std::vector<std::vector<Argv>> blocks;
      for (size_t i = 0; i < batch.size(); ++i) {
        const FoundRefund& k = batch[i];
        const std::string& id = k.id;
        blocks.push_back(
            {Hmget(k.key, RefundFields()),
             {"XRANGE", keys_.RefundEventsKey(k.partition, id), "-", "+"},
             {"HMGET", keys_.SandboxPaymentsKey(k.partition), "paid:" + id,
              "ref:" + id},
             {"HMGET", keys_.WalletKey(k.partition, members[i]), "tx:" + id,
              "coupon:" + id, "reversed:" + id},
             {"ZSCORE", keys_.AttentionKey(k.partition), id}});
      }
      MAKEGOOD_ASSIGN_OR_RETURN(auto snapshots,
                                redis_.Snapshots(std::move(blocks)));
      for (size_t i = 0; i < batch.size(); ++i) {
        const auto& s = snapshots[i];
        Refund r =
            Refund::From(batch[i].key, batch[i].partition, batch[i].id, s[0]);
        CheckRefund(r, s[1], s[2], s[3], s[4]);
      }
    }
    return absl::OkStatus();
  }

  void CheckRefund(const Refund& r, const RedisReply& events,
                   const RedisReply& sandbox, const RedisReply& wallet,
                   const RedisReply& attention_score) {
    ++refunds_;
    if (!r.state.has_value() || !r.amount.has_value() || r.member_id.empty()) {
      Violation({{"check", "refund_malformed"},
                 {"partition", r.partition},
                 {"refund_id", r.id},
                 {"keys", {r.key}}});
      return;
    }
    const std::string& state = *r.state;
    ++refunds_by_state_[state];
    CheckEvents(r, events);
    CheckPayouts(r, sandbox, wallet);

    if ((state == "ACCEPTED" || state == "SETTLING") &&
        now_ms_ - r.updated_at_ms >
            absl::ToInt64Milliseconds(options_.stale_after)) {
      ++stale_count_;
      List(stale_, {{"partition", r.partition},
                    {"refund_id", r.id},
                    {"state", state},
                    {"age_ms", now_ms_ - r.updated_at_ms},
                    {"key", r.key}});
    }
    if (state == "NEEDS_ATTENTION") {
      ++attention_count_;
      List(attention_, {{"partition", r.partition},
                        {"refund_id", r.id},
                        {"provider", r.provider},
                        {"reason", r.state_reason},
                        {"age_ms", now_ms_ - r.updated_at_ms},
                        {"key", r.key}});
      if (attention_score.is_nil()) {
        // Operators list these from the index (ListRefundsNeedingAttention,
        // makegood_admin attention): one missing is one nobody sees.
        // `reconcile --fix` indexes it again.
        Violation({{"check", "attention_index"},
                   {"partition", r.partition},
                   {"refund_id", r.id},
                   {"problem",
                    "NEEDS_ATTENTION refund missing from the attention index"},
                   {"keys", {r.key, keys_.AttentionKey(r.partition)}}});
      }
    }
  }

  void CheckEvents(const Refund& r, const RedisReply& events) {
    std::string problem;
    int64_t n = 0;
    std::string last_to;
    for (const RedisReply& entry : events.elements) {
      if (entry.elements.size() < 2) continue;
      auto e = Fields(entry.elements[1]);
      int64_t seq = 0;
      if (!absl::SimpleAtoi(e["seq"], &seq) || seq != n + 1) {
        problem = absl::StrCat("event ", entry.elements[0].str, " has seq \"",
                               e["seq"], "\", expected ", n + 1);
        break;
      }
      n = seq;
      last_to = e["to"];
    }
    if (problem.empty() && n == 0) problem = "no events";
    if (problem.empty() && last_to != *r.state) {
      problem =
          absl::StrCat("last event goes to ", last_to, ", state is ", *r.state);
    }
    if (problem.empty() && r.seq != n) {
      problem = absl::StrCat("refund seq is ",
                             r.seq.has_value() ? absl::StrCat(*r.seq) : "none",
                             ", events count ", n);
    }
    if (!problem.empty()) {
      Violation({{"check", "refund_events"},
                 {"partition", r.partition},
                 {"refund_id", r.id},
                 {"state", *r.state},
                 {"problem", problem},
                 {"keys", {r.key, keys_.RefundEventsKey(r.partition, r.id)}}});
    }
  }

  // How many payouts a place (sandbox books, wallet credit, coupon) may hold
  // for a refund.
  enum class Expect { kNone, kAtMostOne, kOne };

  // Exactly one payout for a paid refund, at its provider; none elsewhere.
  void CheckPayouts(const Refund& r, const RedisReply& sandbox,
                    const RedisReply& wallet) {
    const std::string& state = *r.state;
    const int64_t amount = *r.amount;
    const bool paid_state = IsFinalPaid(state);
    const bool in_flight = state == "SETTLING" || state == "NEEDS_ATTENTION";
    // At the refund's own provider: one payout once paid, perhaps one while
    // in flight (paid, answer not recorded yet), none before or after a
    // failure. A reversed coupon is taken back (its field deleted).
    Expect own = paid_state  ? Expect::kOne
                 : in_flight ? Expect::kAtMostOne
                             : Expect::kNone;
    if (state == "REVERSED" && r.provider == "coupon") own = Expect::kNone;
    auto expect = [&](absl::string_view provider) {
      return r.provider == provider ? own : Expect::kNone;
    };

    std::vector<std::string> problems;
    Json keys = {r.key};
    auto need = [&problems](bool ok, std::string problem) {
      if (!ok) problems.push_back(std::move(problem));
    };
    auto shown = [](const std::optional<std::string>& v) {
      return v.has_value() ? absl::StrCat("\"", *v, "\"") : "absent";
    };

    // Sandbox books: paid:<id> counts payouts, ref:<id> holds the answer.
    const std::optional<std::string> paid_text = At(sandbox, 0);
    const int64_t paid =
        paid_text.has_value() ? Int(paid_text).value_or(-1) : 0;
    const std::optional<std::string> books_ref = At(sandbox, 1);
    const Expect sandbox_expect = expect("sandbox");
    if (paid != 0 || sandbox_expect != Expect::kNone) {
      keys.push_back(keys_.SandboxPaymentsKey(r.partition));
    }
    const std::string paid_problem = absl::StrCat(
        "sandbox paid:", r.id, " is ", shown(paid_text), " for a ", state, " ",
        r.provider.empty() ? "unsent" : r.provider, " refund");
    switch (sandbox_expect) {
      case Expect::kNone:
        need(paid == 0, paid_problem);
        break;
      case Expect::kAtMostOne:
        need(paid == 0 || paid == 1, paid_problem);
        break;
      case Expect::kOne:
        need(paid == 1, paid_problem);
        need(paid != 1 || books_ref == absl::StrCat("ok:", r.provider_ref),
             absl::StrCat("sandbox ref:", r.id, " is ", shown(books_ref),
                          ", the refund's provider_ref \"", r.provider_ref,
                          "\""));
        break;
    }

    // Wallet credit (tx:<id>) and coupon (coupon:<id>) in the member's
    // wallet hash.
    const std::optional<std::string> tx = At(wallet, 0);
    const std::optional<std::string> coupon = At(wallet, 1);
    if (tx.has_value() || coupon.has_value() || r.provider == "wallet" ||
        r.provider == "coupon") {
      keys.push_back(keys_.WalletKey(r.partition, r.member_id));
    }
    const std::string amount_text = absl::StrCat(amount);
    const std::pair<std::string, std::optional<std::string>> places[] = {
        {"wallet", tx}, {"coupon", coupon}};
    for (const auto& [place, value] : places) {
      const std::string problem =
          absl::StrCat(place == "wallet" ? "wallet tx:" : "coupon:", r.id,
                       " is ", shown(value), " for a ", state, " ",
                       r.provider.empty() ? "unsent" : r.provider,
                       " refund of ", amount_text);
      switch (expect(place)) {
        case Expect::kNone:
          need(!value.has_value(), problem);
          break;
        case Expect::kAtMostOne:
          need(!value.has_value() || value == amount_text, problem);
          break;
        case Expect::kOne:
          need(value == amount_text, problem);
          break;
      }
    }
    if (state == "REVERSED" && r.provider == "wallet") {
      need(At(wallet, 2).has_value(),
           absl::StrCat("wallet has no reversed:", r.id,
                        " for a REVERSED refund"));
    }

    if (r.provider == "http") {
      // The http provider's own books are asked after the scan.
      if (paid_state || !in_flight) http_checks_.push_back({r, paid_state});
    } else if (paid_state) {
      if (r.provider == "sandbox" || r.provider == "wallet" ||
          r.provider == "coupon") {
        ++payouts_verified_;
      } else {
        problems.push_back(absl::StrCat("paid refund with unknown provider \"",
                                        r.provider, "\""));
      }
    }
    if (!problems.empty()) {
      Violation({{"check", "payout"},
                 {"partition", r.partition},
                 {"refund_id", r.id},
                 {"state", state},
                 {"provider", r.provider},
                 {"amount_minor", amount},
                 {"problem", absl::StrJoin(problems, "; ")},
                 {"keys", keys}});
    }
  }

  struct HttpCheck {
    Refund refund;
    bool must_be_paid;
  };

  void CheckHttpPayouts() {
    if (http_checks_.empty()) return;
    settlement::PaymentProvider* http = providers_.Find("http");
    if (http == nullptr) {
      for (const HttpCheck& c : http_checks_) {
        ++http_unchecked_count_;
        List(http_unchecked_, c.refund.id);
      }
      return;
    }
    std::vector<settlement::PayoutRequest> requests;
    for (const HttpCheck& c : http_checks_) {
      requests.push_back(c.refund.Request());
    }
    std::vector<settlement::PayoutResult> results = LookupAll(*http, requests);
    for (size_t i = 0; i < results.size(); ++i) {
      const Refund& r = http_checks_[i].refund;
      const settlement::PayoutResult& found = results[i];
      if (found.outcome == settlement::PayoutOutcome::kUnknown) {
        ++http_unchecked_count_;
        List(http_unchecked_, r.id);
        continue;
      }
      const bool paid = found.outcome == settlement::PayoutOutcome::kSucceeded;
      if (http_checks_[i].must_be_paid) ++payouts_verified_;
      std::string problem;
      if (http_checks_[i].must_be_paid && !paid) {
        problem = absl::StrCat("http provider answers ",
                               settlement::PayoutOutcomeName(found.outcome));
      } else if (http_checks_[i].must_be_paid &&
                 found.provider_reference != r.provider_ref) {
        problem =
            absl::StrCat("http provider reference \"", found.provider_reference,
                         "\", refund says \"", r.provider_ref, "\"");
      } else if (!http_checks_[i].must_be_paid && paid) {
        problem = absl::StrCat("http provider paid a ", *r.state, " refund");
      }
      if (!problem.empty()) {
        Violation({{"check", "payout"},
                   {"partition", r.partition},
                   {"refund_id", r.id},
                   {"state", *r.state},
                   {"provider", r.provider},
                   {"amount_minor", *r.amount},
                   {"problem", problem},
                   {"keys", {r.key}}});
      }
    }
  }

  // 5. Outbox backlog, pending entries and dead letters per partition.
  absl::Status CheckOutbox() {
    std::vector<Argv> commands;
    for (int p = 0; p < keys_.partitions(); ++p) {
      commands.push_back({"XLEN", keys_.OutboxKey(p)});
      commands.push_back({"XLEN", keys_.DeadOutboxKey(p)});
      commands.push_back({"XPENDING", keys_.OutboxKey(p), kGroup});
    }
    std::vector<absl::StatusOr<RedisReply>> replies =
        redis_.Pipeline(std::move(commands));
    for (int p = 0; p < keys_.partitions(); ++p) {
      const auto& backlog = replies[3 * p];
      const auto& dead = replies[3 * p + 1];
      const auto& pending = replies[3 * p + 2];
      if (!backlog.ok()) return backlog.status();
      if (!dead.ok()) return dead.status();
      int64_t pending_count = 0;
      if (pending.ok()) {
        if (!pending->elements.empty()) {
          pending_count = pending->elements[0].integer;
        }
      } else if (!absl::StrContains(pending.status().message(), "NOGROUP")) {
        return pending.status();  // No group yet: nothing pending.
      }
      outbox_.push_back({{"partition", p},
                         {"backlog", backlog->integer},
                         {"pending", pending_count},
                         {"dead_letters", dead->integer}});
    }
    return absl::OkStatus();
  }

  BlockingRedis& redis_;
  const store::KeySchema& keys_;
  const Options& options_;
  const Providers& providers_;
  const int64_t now_ms_;

  // Per ledger txn (refund id) of the partition being replayed.
  struct Txn {
    absl::flat_hash_set<std::string> expense, payable;
    int64_t expense_net = 0, payable_net = 0, accepted = 0;
  };
  absl::flat_hash_map<std::string, Txn> txns_;
  Json violations_ = Json::array();
  Json stale_ = Json::array();
  Json attention_ = Json::array();
  Json http_unchecked_ = Json::array();
  std::vector<Json> outbox_;
  std::vector<HttpCheck> http_checks_;
  std::map<std::string, int64_t> refunds_by_state_;
  // Orders per currency; with --policy, its served currencies and the
  // orders in others.
  std::map<std::string, int64_t> orders_by_currency_;
  std::string policy_version_;
  std::vector<std::string> served_;
  Json unserved_ = Json::array();
  int64_t unserved_count_ = 0;
  int64_t ledger_entries_ = 0, ledger_accounts_ = 0, orders_ = 0, refunds_ = 0,
          payouts_verified_ = 0, http_unchecked_count_ = 0,
          orders_changing_ = 0, stale_count_ = 0, attention_count_ = 0;
};

}  // namespace

absl::StatusOr<MoneyCheckResult> CheckMoney(BlockingRedis& redis,
                                            const store::KeySchema& keys,
                                            const Options& options,
                                            const Providers& providers) {
  MoneyCheck check(redis, keys, options, providers);
  MAKEGOOD_RETURN_IF_ERROR(check.Run());
  return MoneyCheckResult{check.clean(), check.Report()};
}

}  // namespace makegood::admin
