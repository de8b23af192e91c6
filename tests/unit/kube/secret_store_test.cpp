// Secrets at rest: the keyring file, AES-256-GCM records in the store log, rotation and prune.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base64.hpp"
#include "kube/secret_box.hpp"
#include "kube/secrets_key_admin.hpp"
#include "kube/store.hpp"
#include "kube/store_log.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

constexpr const char* kPlainValue = "hunter2-correct-horse-battery";

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/kube-secret-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

json::object secret(const std::string& name, const std::string& value) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                      {"type", "Opaque"},
                      {"data", json::object{{"password", base64_encode(value)}}}};
}

json::object server(const std::string& name) {
  return json::object{{"metadata", json::object{{"name", name}}}, {"spec", json::object{{"marker", "plain-server-spec"}}}};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The JSON payloads of a log's records (the framing is checked by StoreLog itself).
std::vector<json::object> records_of(const std::string& path) {
  const std::string data = slurp(path);
  std::vector<json::object> out;
  std::size_t pos = 0;
  while (pos + 8 <= data.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
    const std::uint32_t len = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
    out.push_back(json::parse(std::string_view(data.data() + pos + 8, len)).as_object());
    pos += 8 + len;
  }
  return out;
}

void write_records(const std::string& path, const std::vector<json::object>& records) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& r : records) out << StoreLog::encode_record(json::serialize(r));
}

SecretKeyring keyring(const std::string& id, unsigned char fill) {
  SecretKey k;
  k.id = id;
  k.bytes.fill(fill);
  return SecretKeyring({k});
}

SecretKeyring keyring2(const SecretKeyring& first, const SecretKeyring& second) {
  return SecretKeyring({first.current(), second.current()});
}

// Writes two Secrets and a Server through a StoreLog sealed with `keys`.
void write_sample(const std::string& path, const SecretKeyring& keys) {
  Store s;
  StoreLog log(path, s, keys);
  s.set_journal(&log);
  s.put("secrets", secret("db", kPlainValue));
  s.put("servers", server("srv-1"));
  s.put("secrets", secret("api", "another-value-123"));
  ASSERT_EQ(log.flush(), "");
}

std::string load_error(const std::string& path, const SecretKeyring& keys) {
  try {
    Store s;
    StoreLog log(path, s, keys);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

json::object* first_sealed(std::vector<json::object>& recs) {
  for (auto& r : recs)
    if (r.contains("e")) return &r;
  return nullptr;
}

TEST(SecretKeyring, ParsesKeysInOrderAndRejectsMalformedFiles) {
  const std::string k1 = base64_encode(std::string(32, 'a')), k2 = base64_encode(std::string(32, 'b'));
  std::string error;
  auto keys = SecretKeyring::parse("# comment\n\nnew-1 " + k1 + "\n  old.0\t" + k2 + "  \n", error);
  ASSERT_TRUE(keys) << error;
  ASSERT_EQ(keys->keys().size(), 2u);
  EXPECT_EQ(keys->current().id, "new-1");
  ASSERT_NE(keys->find("old.0"), nullptr);
  EXPECT_EQ(keys->find("old.0")->bytes[0], 'b');
  EXPECT_EQ(keys->find("nope"), nullptr);
  auto again = SecretKeyring::parse(keys->render(), error);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->current().id, "new-1");
  EXPECT_EQ(again->keys()[1].bytes, keys->keys()[1].bytes);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "no key"},
      {"# only a comment\n", "no key"},
      {"k1\n", "line 1: expected"},
      {"k1 " + base64_encode(std::string(16, 'x')) + "\n", "exactly 32 bytes (found 16)"},
      {"k1 not*base64\n", "exactly 32 bytes"},
      {"bad/id " + k1 + "\n", "key id must be"},
      {"k1 " + k1 + "\nk1 " + k2 + "\n", "line 2: key id k1 appears twice"},
  };
  for (const auto& [text, expected] : bad) {
    EXPECT_FALSE(SecretKeyring::parse(text, error)) << text;
    EXPECT_NE(error.find(expected), std::string::npos) << error;
    EXPECT_EQ(error.find(k1), std::string::npos) << "errors never quote a key";
  }
}

TEST(SecretKeyring, SealOpensOnlyWithTheSameKeyAndAad) {
  const auto keys = keyring("a", 1), other = keyring("b", 2);
  const std::string aad = secret_record_aad("secrets", "default/db", 7);
  auto sealed = seal_secret(keys.current(), "plain text", aad);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->nonce.size(), kSecretNonceBytes);
  EXPECT_EQ(sealed->ciphertext.size(), 10 + kSecretTagBytes);
  EXPECT_EQ(open_secret(keys.current(), sealed->nonce, sealed->ciphertext, aad), "plain text");
  EXPECT_FALSE(open_secret(other.current(), sealed->nonce, sealed->ciphertext, aad));
  EXPECT_FALSE(open_secret(keys.current(), sealed->nonce, sealed->ciphertext, secret_record_aad("secrets", "default/db", 8)));
  EXPECT_FALSE(open_secret(keys.current(), sealed->nonce, sealed->ciphertext, secret_record_aad("secrets", "default/dc", 7)));
  EXPECT_FALSE(open_secret(keys.current(), sealed->nonce, sealed->ciphertext, secret_record_aad("configmaps", "default/db", 7)));
  EXPECT_FALSE(open_secret(keys.current(), sealed->nonce.substr(1), sealed->ciphertext, aad));
  EXPECT_FALSE(open_secret(keys.current(), sealed->nonce, sealed->ciphertext.substr(0, 5), aad));
  auto again = seal_secret(keys.current(), "plain text", aad);
  ASSERT_TRUE(again);
  EXPECT_NE(again->nonce, sealed->nonce) << "a random nonce per record";
}

TEST(SecretKeyFile, CreatedOnceWithMode0600AndCheckedOnLoad) {
  TempDir dir;
  const std::string path = secrets_key_path(dir.path);
  bool created = false;
  const auto first = load_or_create_secret_keys(path, &created);
  EXPECT_TRUE(created);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()), 1)
      << "no temporary file is left";
  const auto second = load_or_create_secret_keys(path, &created);
  EXPECT_FALSE(created);
  EXPECT_EQ(second.current().id, first.current().id);
  EXPECT_EQ(second.current().bytes, first.current().bytes);

  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  try {
    load_or_create_secret_keys(path);
    ADD_FAILURE() << "a group-readable key file is refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("accessible by group or others (mode 0640)"), std::string::npos) << e.what();
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  {
    std::ofstream out(path, std::ios::trunc);
    out << "k1 " << base64_encode(std::string(31, 'z')) << "\n";
  }
  try {
    load_or_create_secret_keys(path);
    ADD_FAILURE() << "a wrong-size key is refused, not replaced";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed Secrets key file: line 1: key k1 is not the base64 of exactly 32 bytes"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NE(slurp(path).find("k1 "), std::string::npos) << "the malformed file is left alone";
}

TEST(SecretStoreLog, RoundTripKeepsValuesOutOfTheFile) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  const auto keys = keyring("k-one", 7);
  write_sample(path, keys);
  const std::string bytes = slurp(path);
  EXPECT_EQ(bytes.find(kPlainValue), std::string::npos);
  EXPECT_EQ(bytes.find(base64_encode(kPlainValue)), std::string::npos);
  EXPECT_EQ(bytes.find("password"), std::string::npos) << "the whole object is sealed, keys of data too";
  EXPECT_NE(bytes.find("plain-server-spec"), std::string::npos) << "other resources stay plaintext";

  auto recs = records_of(path);
  int sealed = 0;
  for (const auto& r : recs) {
    if (!r.contains("e")) continue;
    ++sealed;
    EXPECT_EQ(r.at("r"), "secrets");
    EXPECT_EQ(r.at("k"), "k-one");
    EXPECT_EQ(base64_decode(r.at("iv").as_string())->size(), kSecretNonceBytes);
    EXPECT_FALSE(r.contains("o"));
  }
  EXPECT_EQ(sealed, 2);

  Store s;
  StoreLog log(path, s, keys);
  EXPECT_EQ(log.load_stats().sealed_records, 2u);
  EXPECT_FALSE(log.load_stats().reencrypted);
  EXPECT_EQ(s.resource_version(), 3u);
  ASSERT_EQ(s.objects("secrets").size(), 2u);
  const auto first = s.objects("secrets").begin();
  const std::string db_key((*first)->parse().at("metadata").at("name") == "api" ? (*std::next(first))->key()
                                                                                  : (*first)->key());
  const auto db = s.get("secrets", db_key);
  EXPECT_EQ(base64_decode(db->at("data").at("password").as_string()), kPlainValue);
  EXPECT_EQ(db->at("metadata").at("resourceVersion"), "1");
  ASSERT_NE(s.get("servers", "srv-1"), nullptr);
}

TEST(SecretStoreLog, DeletesAndOtherResourcesAreUnchangedPlaintextRecords) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  const auto keys = keyring("k", 1);
  std::string name;
  {
    Store s;
    StoreLog log(path, s, keys);
    s.set_journal(&log);
    s.put("servers", server("srv-1"));
    s.put("secrets", secret("db", kPlainValue));
    name = (*s.objects("secrets").begin())->key();
    s.erase("secrets", name);
    ASSERT_EQ(log.flush(), "");
    EXPECT_EQ(s.objects("secrets").size(), 0u);
  }
  const std::string bytes = slurp(path);
  // Store::put stamps the resourceVersion into metadata before the record is made.
  json::object stamped = server("srv-1");
  stamped["metadata"].as_object()["resourceVersion"] = "1";
  EXPECT_NE(bytes.find(StoreLog::encode_record(StoreLog::put_payload(1, "servers", json::serialize(stamped)))),
            std::string::npos);
  EXPECT_NE(bytes.find(StoreLog::encode_record(json::serialize(json::object{{"rv", 3}, {"r", "secrets"}, {"d", name}}))),
            std::string::npos);
  Store s;
  StoreLog log(path, s, keys);
  EXPECT_EQ(s.objects("secrets").size(), 0u);
  EXPECT_EQ(s.resource_version(), 3u);
}

TEST(SecretStoreLog, TamperedCiphertextIsAHardErrorNamingTheResourceVersion) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  const auto keys = keyring("k", 3);
  write_sample(path, keys);
  auto recs = records_of(path);
  json::object* rec = first_sealed(recs);
  ASSERT_NE(rec, nullptr);
  const auto rv = rec->at("rv").to_number<std::uint64_t>();
  std::string ct = *base64_decode(rec->at("e").as_string());
  ct[ct.size() / 2] ^= 0x01;
  (*rec)["e"] = base64_encode(ct);
  write_records(path, recs);  // valid framing and CRC: only the authentication can notice
  const std::string tampered = slurp(path);
  const std::string err = load_error(path, keys);
  EXPECT_NE(err.find("encrypted record at resourceVersion " + std::to_string(rv)), std::string::npos) << err;
  EXPECT_NE(err.find("fails authentication"), std::string::npos) << err;
  EXPECT_EQ(err.find(kPlainValue), std::string::npos);
  EXPECT_EQ(slurp(path), tampered) << "the log is neither truncated nor rewritten";
}

TEST(SecretStoreLog, RecordMovedToAnotherNameOrResourceVersionFails) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  const auto keys = keyring("k", 4);
  write_sample(path, keys);
  const auto original = records_of(path);
  {
    auto recs = original;
    json::object* rec = first_sealed(recs);
    ASSERT_NE(rec, nullptr);
    (*rec)["n"] = "default/stolen";
    write_records(path, recs);
    EXPECT_NE(load_error(path, keys).find("fails authentication"), std::string::npos);
  }
  {
    auto recs = original;
    json::object* rec = first_sealed(recs);
    (*rec)["rv"] = rec->at("rv").to_number<std::uint64_t>() + 10;
    write_records(path, recs);
    const std::string err = load_error(path, keys);
    EXPECT_NE(err.find("fails authentication"), std::string::npos) << err;
  }
  {
    auto recs = original;
    json::object* rec = first_sealed(recs);
    (*rec)["r"] = "configmaps";
    write_records(path, recs);
    EXPECT_NE(load_error(path, keys).find("fails authentication"), std::string::npos);
  }
  write_records(path, original);
  EXPECT_EQ(load_error(path, keys), "") << "the untouched records load";
}

TEST(SecretStoreLog, TornSealedTailIsDroppedLikeAnyOther) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  const auto keys = keyring("k", 5);
  write_sample(path, keys);
  const auto size = std::filesystem::file_size(path);
  // Inside the batch's commit record: the whole batch (two sealed Secrets and a Server, written
  // with one fdatasync) was never acknowledged and goes, sealed records like any other.
  std::filesystem::resize_file(path, size - 5);
  Store s;
  StoreLog log(path, s, keys);
  EXPECT_EQ(log.load_stats().drop_reason, "batch without its commit record");
  EXPECT_EQ(s.objects("secrets").size(), 0u);
}

TEST(SecretStoreLog, MissingKeyIdIsAClearError) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  write_sample(path, keyring("gone-key", 6));
  const std::string err = load_error(path, keyring("other", 9));
  EXPECT_NE(err.find("needs key id gone-key, which secrets.key does not hold"), std::string::npos) << err;
  EXPECT_NE(err.find("resourceVersion 1"), std::string::npos) << err;
}

TEST(SecretStoreLog, RotationReencryptsOnOpenAndOldKeyIsThenUnneeded) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  const auto old_key = keyring("old", 1), new_key = keyring("new", 2);
  write_sample(path, old_key);
  EXPECT_EQ(StoreLog::key_usage(path).sealed_with, std::set<std::string>{"old"});
  EXPECT_EQ(StoreLog::key_usage(path).writer_key, "old");
  {
    Store s;
    StoreLog log(path, s, keyring2(new_key, old_key));  // rotated: new first, old kept
    EXPECT_TRUE(log.load_stats().reencrypted);
    EXPECT_EQ(s.objects("secrets").size(), 2u) << "records under the old key still load";
  }
  const auto usage = StoreLog::key_usage(path);
  EXPECT_EQ(usage.sealed_with, std::set<std::string>{"new"});
  EXPECT_EQ(usage.writer_key, "new");
  EXPECT_EQ(slurp(path).find(kPlainValue), std::string::npos);
  Store s;
  StoreLog log(path, s, new_key);
  EXPECT_FALSE(log.load_stats().reencrypted);
  EXPECT_EQ(s.resource_version(), 3u);
  ASSERT_EQ(s.objects("secrets").size(), 2u);
  for (const auto& stored : s.objects("secrets")) {
    if (stored->parse().at("metadata").at("name") == "db") {
      EXPECT_EQ(base64_decode(stored->parse().at("data").at("password").as_string()), kPlainValue);
    }
  }
  ASSERT_NE(s.get("servers", "srv-1"), nullptr) << "the rewrite keeps the other resources";
}

TEST(SecretStoreLog, CompactionKeepsSecretsSealed) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  const auto keys = keyring("k", 8);
  {
    Store s;
    StoreLog log(path, s, keys);
    s.set_journal(&log);
    for (int i = 0; i < 20; ++i) s.put("secrets", secret("db", kPlainValue + std::to_string(i)));
    s.put("servers", server("srv-1"));
    ASSERT_EQ(log.flush(), "");
    ASSERT_EQ(log.compact(), "");
    s.put("secrets", secret("later", kPlainValue));
    ASSERT_EQ(log.flush(), "");
  }
  const std::string bytes = slurp(path);
  EXPECT_EQ(bytes.find(kPlainValue), std::string::npos);
  EXPECT_EQ(bytes.find(base64_encode(kPlainValue + std::string("19"))), std::string::npos);
  const auto recs = records_of(path);
  ASSERT_EQ(recs.size(), 6u) << "header, db, srv-1, commit, later, commit";
  EXPECT_EQ(recs[0].at("k"), "k");
  Store s;
  StoreLog log(path, s, keys);
  EXPECT_EQ(log.load_stats().sealed_records, 2u);
  EXPECT_EQ(s.resource_version(), 22u);
  for (const auto& stored : s.objects("secrets")) {
    if (stored->parse().at("metadata").at("name") == "db") {
      EXPECT_EQ(base64_decode(stored->parse().at("data").at("password").as_string()), kPlainValue + std::string("19"));
    }
  }
}

TEST(SecretStoreLog, OlderLogsLoadUnchangedAndPlaintextSecretsGetSealed) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  json::object srv = server("srv-1");
  srv["metadata"].as_object()["resourceVersion"] = "1";
  json::object sec = secret("db", kPlainValue);
  sec["metadata"].as_object()["resourceVersion"] = "2";
  const std::string old_servers = StoreLog::encode_record(StoreLog::put_payload(1, "servers", json::serialize(srv)));
  {
    std::ofstream out(path, std::ios::binary);
    out << old_servers;
  }
  const auto keys = keyring("k", 1);
  {
    Store s;
    StoreLog log(path, s, keys);
    EXPECT_FALSE(log.load_stats().reencrypted);
    EXPECT_EQ(log.load_stats().dropped_bytes, 0u);
    ASSERT_NE(s.get("servers", "srv-1"), nullptr);
  }
  const std::string after = slurp(path);
  EXPECT_EQ(after.substr(0, old_servers.size()), old_servers) << "existing records are kept byte for byte";
  EXPECT_EQ(StoreLog::key_usage(path).writer_key, "k") << "one key marker record appended";

  // A Secret stored in plaintext (before encryption at rest) is sealed by the next open.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << StoreLog::encode_record(StoreLog::put_payload(2, "secrets", json::serialize(sec)));
    out << StoreLog::encode_record(R"({"rv":2,"c":1})");  // its batch's commit record
  }
  EXPECT_EQ(StoreLog::key_usage(path).unsealed_secrets, 1u);
  {
    Store s;
    StoreLog log(path, s, keys);
    EXPECT_TRUE(log.load_stats().reencrypted);
    EXPECT_EQ(s.objects("secrets").size(), 1u);
  }
  EXPECT_EQ(slurp(path).find(base64_encode(kPlainValue)), std::string::npos);
  EXPECT_EQ(StoreLog::key_usage(path).unsealed_secrets, 0u);
}

TEST(SecretsKeyAdmin, RotateThenRestartThenPrune) {
  TempDir dir;
  const std::string log_path = dir.path + "/store.log";
  {
    Store s;
    StoreLog log(log_path, s);  // creates secrets.key beside the log
    s.set_journal(&log);
    s.put("secrets", secret("db", kPlainValue));
    ASSERT_EQ(log.flush(), "");
  }
  const std::string first_id = load_secret_keys(secrets_key_path(dir.path)).current().id;
  EXPECT_NE(prune_secrets_keys(dir.path).find("nothing to prune"), std::string::npos);
  const std::string msg = rotate_secrets_key(dir.path);
  const auto rotated = load_secret_keys(secrets_key_path(dir.path));
  ASSERT_EQ(rotated.keys().size(), 2u);
  EXPECT_EQ(rotated.keys()[1].id, first_id) << "the old key is kept";
  EXPECT_NE(msg.find(rotated.current().id), std::string::npos);
  EXPECT_EQ(msg.find(base64_encode(std::string(reinterpret_cast<const char*>(rotated.current().bytes.data()), 32))),
            std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(secrets_key_path(dir.path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  try {
    prune_secrets_keys(dir.path);
    ADD_FAILURE() << "prune must refuse while the log has records under the old key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("still has Secrets under key " + first_id), std::string::npos) << e.what();
  }
  EXPECT_EQ(load_secret_keys(secrets_key_path(dir.path)).keys().size(), 2u) << "a refused prune changes nothing";
  {
    Store s;
    StoreLog log(log_path, s);  // the restart: re-encrypts under the new key
    EXPECT_TRUE(log.load_stats().reencrypted);
  }
  EXPECT_NE(prune_secrets_keys(dir.path).find("removed 1"), std::string::npos);
  const auto pruned = load_secret_keys(secrets_key_path(dir.path));
  ASSERT_EQ(pruned.keys().size(), 1u);
  EXPECT_EQ(pruned.current().id, rotated.current().id);
  Store s;
  StoreLog log(log_path, s);
  ASSERT_EQ(s.objects("secrets").size(), 1u);
}

TEST(SecretsKeyAdmin, PruneRefusesWhileARunningDaemonStillWritesWithTheOldKey) {
  TempDir dir;
  const std::string log_path = dir.path + "/store.log";
  Store s;
  StoreLog running(log_path, s);  // no Secrets yet: only its key marker is in the log
  s.set_journal(&running);
  rotate_secrets_key(dir.path);
  try {
    prune_secrets_keys(dir.path);
    ADD_FAILURE() << "the daemon started before the rotation still seals with the old key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("was not restarted since the rotation"), std::string::npos) << e.what();
  }
  s.put("secrets", secret("db", kPlainValue));
  ASSERT_EQ(running.flush(), "");
  Store reloaded;
  StoreLog log(log_path, reloaded);
  EXPECT_EQ(reloaded.objects("secrets").size(), 1u) << "the old key was kept, so its record opens";
}

TEST(SecretsKeyAdmin, RotateNeedsAnExistingKeyFile) {
  TempDir dir;
  try {
    rotate_secrets_key(dir.path);
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no Secrets key file"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(secrets_key_path(dir.path)));
}

}  // namespace
}  // namespace ironboot::kube
