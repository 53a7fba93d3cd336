#include "services/auth/credential_files.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/auth/test_tokens.h"

namespace makegood::auth {
namespace {

using ::makegood::auth::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSource[] = "api_keys_file /etc/makegood/api-keys";

TEST(HashApiKey, IsTheHexSha256OfTheKey) {
  // FIPS 180-2 test vector.
  EXPECT_EQ(HashApiKey("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeyTable, FindsKeysByTheirHashAndNothingElse) {
  std::string file = absl::StrCat(
      "# API keys for makegood\n", "\n",
      ApiKeyLine("key-app-1", "app-backend-eu", RoleSet({Role::kAppBackend})),
      "  # the EU app\n",
      ApiKeyLine("key-app-2", "app-backend-eu", RoleSet({Role::kAppBackend})),
      "\n", "\t", HashApiKey("key-support"), "\tsupport-desk\tagent,admin\r\n");
  absl::StatusOr<ApiKeyTable> table = ApiKeyTable::Parse(file, kSource);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);

  const ApiKeyEntry* app = table->Find("key-app-2");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->principal_id, "app-backend-eu");
  EXPECT_EQ(app->roles, RoleSet({Role::kAppBackend}));
  const ApiKeyEntry* support = table->Find("key-support");
  ASSERT_NE(support, nullptr);
  EXPECT_EQ(support->roles, RoleSet({Role::kAgent, Role::kAdmin}));

  EXPECT_EQ(table->Find("key-app-3"), nullptr);
  EXPECT_EQ(table->Find(""), nullptr);
  // The hash itself is not a key.
  EXPECT_EQ(table->Find(HashApiKey("key-app-1")), nullptr);
}

TEST(ApiKeyTable, AcceptsUpperCaseHex) {
  std::string hash = HashApiKey("k");
  for (char& c : hash) c = static_cast<char>(std::toupper(c));
  absl::StatusOr<ApiKeyTable> table =
      ApiKeyTable::Parse(absl::StrCat(hash, " p admin\n"), kSource);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_NE(table->Find("k"), nullptr);
}

struct BadFileCase {
  std::string contents;
  std::string expected;  // substring of the error message
};

TEST(ApiKeyTable, ReportsErrorsWithTheFileAndLineNumber) {
  const std::string good = ApiKeyLine("k1", "p1", RoleSet({Role::kAdmin}));
  const std::vector<BadFileCase> cases = {
      {absl::StrCat("# header\n", good, "\n", HashApiKey("k2"), " p2\n"),
       "api_keys_file /etc/makegood/api-keys: line 3: expected"},
      {absl::StrCat(good, "\n", HashApiKey("k2"), " p2 admin extra\n"),
       "line 2: expected"},
      {absl::StrCat(good, "\nabc123 p2 admin\n"), "line 2: the first field"},
      {absl::StrCat(HashApiKey("k2"), " p{2} admin\n"),
       "line 1: the principal id"},
      {absl::StrCat(HashApiKey("k2"), " p2 admin,superuser\n"),
       "line 1: unknown role \"superuser\""},
      {absl::StrCat(HashApiKey("k2"), " p2 admin,\n"),
       "line 1: unknown role \"\""},
      {absl::StrCat(good, "\n\n",
                    ApiKeyLine("k1", "p9", RoleSet({Role::kAgent})), "\n"),
       "line 3: the same key is already listed on line 1"},
  };
  for (const BadFileCase& c : cases) {
    absl::StatusOr<ApiKeyTable> table = ApiKeyTable::Parse(c.contents, kSource);
    ASSERT_FALSE(table.ok()) << c.contents;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(table.status().message()), HasSubstr(c.expected));
  }
}

TEST(ApiKeyTable, NeverEchoesARawKeyPastedInsteadOfItsHash) {
  const std::string raw_key = "mk_live_7f3a9c0d1e2b4a5f6c7d8e9f0a1b2c3d";
  absl::StatusOr<ApiKeyTable> table =
      ApiKeyTable::Parse(absl::StrCat(raw_key, " app admin\n"), kSource);
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(std::string(table.status().message()), Not(HasSubstr(raw_key)));
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("not the key"));
}

TEST(ApiKeyTable, ReadsThePartnerRole) {
  absl::StatusOr<ApiKeyTable> table = ApiKeyTable::Parse(
      absl::StrCat(HashApiKey("key-store"), " store:store-1 partner\n"),
      kSource);
  ASSERT_TRUE(table.ok()) << table.status();
  const ApiKeyEntry* store = table->Find("key-store");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->principal_id, "store:store-1");
  EXPECT_EQ(store->roles, RoleSet({Role::kPartner}));
}

TEST(ApiKeyTable, AnEmptyFileHasNoKeys) {
  absl::StatusOr<ApiKeyTable> table =
      ApiKeyTable::Parse("# nothing yet\n", kSource);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->size(), 0u);
  EXPECT_EQ(table->Find("anything"), nullptr);
}

TEST(ClientTable, MapsCertificateNamesToRoles) {
  absl::StatusOr<ClientTable> table = ClientTable::Parse(
      "# mTLS clients\norders.internal order-system\n"
      "support.internal agent,admin # desk\n",
      "tls_clients_file f");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  const ClientEntry* orders = table->Find("orders.internal");
  ASSERT_NE(orders, nullptr);
  EXPECT_EQ(orders->roles, RoleSet({Role::kOrderSystem}));
  EXPECT_EQ(table->Find("ORDERS.internal"), nullptr);
  EXPECT_EQ(table->Find("unknown.internal"), nullptr);
}

TEST(ClientTable, ReportsErrorsWithTheLineNumber) {
  EXPECT_THAT(ClientTable::Parse("a admin\nb\n", "tls_clients_file f")
                  .status()
                  .message(),
              HasSubstr("tls_clients_file f: line 2: expected"));
  EXPECT_THAT(ClientTable::Parse("spiffe://x/y admin\n", "tls_clients_file f")
                  .status()
                  .message(),
              HasSubstr("line 1: the certificate name"));
  EXPECT_THAT(ClientTable::Parse("a admin\na agent\n", "tls_clients_file f")
                  .status()
                  .message(),
              HasSubstr("line 2: \"a\" is already listed on line 1"));
  EXPECT_THAT(
      ClientTable::Parse("a root\n", "tls_clients_file f").status().message(),
      HasSubstr("line 1: unknown role \"root\""));
}

TEST(ReadCredentialFile, ReadsTheFileOrNamesTheOption) {
  TempDir dir;
  std::string path = dir.Write("keys", "line\n");
  absl::StatusOr<std::string> text = ReadCredentialFile(path, "api_keys_file");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "line\n");

  absl::StatusOr<std::string> missing =
      ReadCredentialFile(dir.path() + "/nope", "api_keys_file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("api_keys_file"));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nope"));

  std::string big =
      dir.Write("big", std::string(kMaxCredentialFileBytes + 1, '#'));
  EXPECT_EQ(ReadCredentialFile(big, "api_keys_file").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace makegood::auth
