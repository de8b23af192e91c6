#include "discovery/lifecycle.hpp"
#include "discovery/token.hpp"

#include "kube/objects.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;
using Action = Instruction::Action;
constexpr const char* kNow = "2026-11-24T04:00:00Z";

json::object server(bool accepted, bool clean) {
  return json::object{{"metadata", json::object{{"name", "s1"}}},
                      {"spec", json::object{{"accepted", accepted}}},
                      {"status", json::object{{"isClean", clean}}}};
}

json::object apply_status(json::object s, const json::object& patch) {
  for (const auto& [k, v] : patch.at("status").as_object()) s["status"].as_object()[k] = v;
  return s;
}

TEST(Lifecycle, Instructions) {
  const LifecycleOptions fast{WipeMode::fast};
  EXPECT_EQ(next_instruction(nullptr, fast, true), Instruction::wait());
  auto s = server(false, false);
  EXPECT_EQ(next_instruction(&s, fast, true), Instruction::wait()) << "not accepted: wait, no reboot loop";
  s = server(true, false);
  EXPECT_EQ(next_instruction(&s, fast, true), Instruction::wipe("fast"));
  EXPECT_EQ(next_instruction(&s, LifecycleOptions{WipeMode::full}, true), Instruction::wipe("full"));
  EXPECT_EQ(next_instruction(&s, LifecycleOptions{WipeMode::none}, true), Instruction::wait());
  s = server(true, true);
  EXPECT_EQ(next_instruction(&s, fast, false), Instruction::reboot());
  EXPECT_EQ(next_instruction(&s, fast, true), Instruction::wait()) << "the next boot would be the agent again";
  EXPECT_EQ(json::serialize(Instruction::wipe("full").to_json()), R"({"action":"wipe","mode":"full"})");
  EXPECT_EQ(json::serialize(Instruction::reboot().to_json()), R"({"action":"reboot"})");
}

TEST(Lifecycle, AcceptWipeCleanRebootFlow) {
  const LifecycleOptions fast{WipeMode::fast};
  auto s = server(false, false);
  auto accepted = s;
  accepted["spec"].as_object()["accepted"] = true;
  EXPECT_FALSE(status_after_spec_change(&s, accepted, fast, kNow)) << "fast mode: the agent wipes first";
  EXPECT_EQ(next_instruction(&accepted, fast, true), Instruction::wipe("fast"));
  const auto wiping = status_for_wipe_started(accepted, "fast", kNow, "id-1", "nonce-1");
  accepted = apply_status(accepted, wiping);
  EXPECT_TRUE(objects::condition_is_true(accepted, "Wiping"));
  EXPECT_EQ(accepted.at("status").at("wipeRequest").at("idSha256"), boost::json::value(sha256_hex("id-1")));
  EXPECT_EQ(check_wipe_exchange(accepted, "id-1", "nonce-1"), "");

  const auto wiped = status_for_wiped(accepted, WipedReport{"fast", {"/dev/sda", "/dev/nvme0n1"}, {}, {}, {}}, kNow);
  ASSERT_TRUE(wiped);
  accepted = apply_status(accepted, *wiped);
  EXPECT_TRUE(accepted.at("status").at("isClean").as_bool());
  EXPECT_TRUE(objects::condition_is_true(accepted, "Clean"));
  EXPECT_FALSE(objects::condition_is_true(accepted, "Wiping"));
  EXPECT_FALSE(objects::condition_is_true(accepted, "PXEBooted"));
  EXPECT_EQ(objects::find_condition(accepted, "Clean")->at("message"), "fast: /dev/sda, /dev/nvme0n1");
  EXPECT_EQ(next_instruction(&accepted, fast, false), Instruction::reboot());
  EXPECT_TRUE(accepted.at("status").at("wipeRequest").is_null()) << "the id is used up (a merge patch removes it)";
  EXPECT_EQ(check_wipe_exchange(accepted, "id-1", "nonce-1"), "the Server is not wiping");

  // Un-accepting makes it unclean again.
  auto unaccepted = accepted;
  unaccepted["spec"].as_object()["accepted"] = false;
  const auto patch = status_after_spec_change(&accepted, unaccepted, fast, kNow);
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->at("status").at("isClean"), false);
  unaccepted = apply_status(unaccepted, *patch);
  EXPECT_FALSE(objects::condition_is_true(unaccepted, "Clean"));
  EXPECT_EQ(next_instruction(&unaccepted, fast, true), Instruction::wait());
  // A wiped report arriving after un-accept does not make it clean.
  EXPECT_FALSE(status_for_wiped(unaccepted, WipedReport{"fast", {}, {}, {}, {}}, kNow));
  // No change in acceptance: nothing to write.
  EXPECT_FALSE(status_after_spec_change(&accepted, accepted, fast, kNow));
}

TEST(Lifecycle, WipeExchangeNeedsThisSessionsIdWhileWiping) {
  auto s = server(false, false);
  s["spec"].as_object()["accepted"] = true;
  EXPECT_EQ(check_wipe_exchange(s, "id-1", "nonce-1"), "the Server is not wiping");
  s = apply_status(s, status_for_wipe_started(s, "fast", kNow, "id-1", "nonce-1"));
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");  // FIPS 180-2
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(check_wipe_exchange(s, "id-1", "nonce-1"), "");
  EXPECT_TRUE(wipe_outstanding_for(s, "nonce-1"));
  EXPECT_FALSE(wipe_outstanding_for(s, "nonce-2"));
  EXPECT_EQ(check_wipe_exchange(s, "", "nonce-1"), "wipeId missing");
  EXPECT_EQ(check_wipe_exchange(s, "id-2", "nonce-1"), "wrong wipeId");
  EXPECT_EQ(check_wipe_exchange(s, "id-1", "nonce-2"), "the wipe was handed to another session");
  // A new boot's wipe replaces the digest: the old id no longer counts.
  s = apply_status(s, status_for_wipe_started(s, "fast", kNow, "id-3", "nonce-2"));
  EXPECT_EQ(check_wipe_exchange(s, "id-1", "nonce-1"), "the wipe was handed to another session");
  EXPECT_EQ(check_wipe_exchange(s, "id-3", "nonce-2"), "");
  auto unaccepted = s;
  unaccepted["spec"].as_object()["accepted"] = false;
  EXPECT_EQ(check_wipe_exchange(unaccepted, "id-3", "nonce-2"), "the Server is not accepted");
  const boost::json::object expected{{"action", "wipe"}, {"mode", "fast"}, {"wipeId", "abc"}};
  EXPECT_EQ((Instruction{Instruction::Action::wipe, "fast", "abc"}.to_json()), expected);
}

TEST(Lifecycle, AFailedWipeIsNeverClean) {
  const LifecycleOptions secure{WipeMode::secure};
  auto s = server(false, false);
  s["spec"].as_object()["accepted"] = true;
  EXPECT_EQ(next_instruction(&s, secure, true), Instruction::wipe("secure"));
  WipedReport failed{"secure", {"/dev/vda"}, {"/dev/nvme0n1: verification: non-zero data at offset 0"}, {"/dev/sda (usb)"}, {}};
  const auto patch = status_for_wiped(s, failed, kNow);
  ASSERT_TRUE(patch);
  auto after = apply_status(s, *patch);
  EXPECT_FALSE(after.at("status").at("isClean").as_bool());
  EXPECT_FALSE(objects::condition_is_true(after, "Clean"));
  EXPECT_TRUE(objects::condition_is_true(after, "WipeFailed"));
  EXPECT_EQ(objects::find_condition(after, "WipeFailed")->at("message"),
            "secure: failed /dev/nvme0n1: verification: non-zero data at offset 0; skipped /dev/sda (usb)");
  EXPECT_EQ(next_instruction(&after, secure, true), Instruction::wipe("secure"));  // wiped again
  // The next wipe works: clean, the skipped disk named, WipeFailed cleared.
  const auto ok = status_for_wiped(after, WipedReport{"secure", {"/dev/vda", "/dev/nvme0n1"}, {}, {"/dev/sda (usb)"}, {}}, kNow);
  ASSERT_TRUE(ok);
  after = apply_status(after, *ok);
  EXPECT_TRUE(after.at("status").at("isClean").as_bool());
  EXPECT_FALSE(objects::condition_is_true(after, "WipeFailed"));
  EXPECT_EQ(objects::find_condition(after, "Clean")->at("message"), "secure: /dev/vda, /dev/nvme0n1; skipped /dev/sda (usb)");
}

TEST(Lifecycle, WipeNoneMarksCleanOnAccept) {
  const LifecycleOptions none{WipeMode::none};
  const auto before = server(false, false);
  const auto after = server(true, false);
  const auto patch = status_after_spec_change(&before, after, none, kNow);
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->at("status").at("isClean"), true);
  EXPECT_EQ(patch->at("status").at("conditions").at(0).at("reason"), "WipeDisabled");
  EXPECT_FALSE(status_after_spec_change(&after, apply_status(after, *patch), none, kNow));
}

TEST(Lifecycle, Addresses) {
  const auto patch = status_for_addresses(AddressesReport{{{"InternalIP", "10.0.0.50"}, {"Hostname", "node1"}}});
  EXPECT_EQ(json::serialize(patch),
            R"({"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.50"},{"type":"Hostname","address":"node1"}]}})");
}

TEST(LongPoll, WaitParameter) {
  using std::chrono::seconds;
  EXPECT_EQ(parse_poll_wait(std::nullopt), seconds(30));
  EXPECT_EQ(parse_poll_wait(""), seconds(30));
  EXPECT_EQ(parse_poll_wait("0"), seconds(0));
  EXPECT_EQ(parse_poll_wait("45"), seconds(45));
  EXPECT_EQ(parse_poll_wait("600"), seconds(60));
  EXPECT_EQ(parse_poll_wait("99999999999999999999999"), seconds(60));
  EXPECT_FALSE(parse_poll_wait("-1"));
  EXPECT_FALSE(parse_poll_wait("5s"));
  EXPECT_FALSE(parse_poll_wait("abc"));
}

TEST(LongPoll, AnswersOnChangeOrDeadline) {
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  const PendingPoll poll{Instruction::wait(), t0 + std::chrono::seconds(30)};
  EXPECT_FALSE(poll_should_answer(poll, Instruction::wait(), t0));
  EXPECT_TRUE(poll_should_answer(poll, Instruction::wipe("fast"), t0));
  EXPECT_TRUE(poll_should_answer(poll, Instruction::wait(), t0 + std::chrono::seconds(30)));
  EXPECT_TRUE(instruction_changed(Instruction::wipe("fast"), Instruction::wipe("full")));
  EXPECT_FALSE(instruction_changed(Instruction::reboot(), Instruction::reboot()));
}

}  // namespace
}  // namespace ironboot::discovery
