/* test_util_redact.c: passwords come out of storage and broker URLs, libpq
 * conninfo strings and the messages that quote them (util/redact.h). */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/redact.h"

static int check(const char *in, const char *want) {
  char *got = weft_redact(in);
  ASSERT(got);
  ASSERT_STR_EQ(got, want);
  free(got);
  return 0;
}

TEST(urls) {
  static const char *const cases[][2] = {
      {"postgres://user:s3cret@db.example/weft", "postgres://user:***@db.example/weft"},
      {"postgresql://weft:p%40ss@127.0.0.1:5432/weft?sslmode=require",
       "postgresql://weft:***@127.0.0.1:5432/weft?sslmode=require"},
      {"amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"},
      {"amqp://bob:a:b@c@host", "amqp://bob:***@host"},
      /* nothing to hide: unchanged */
      {"amqp://guest@127.0.0.1:5672/", "amqp://guest@127.0.0.1:5672/"},
      {"amqp://127.0.0.1", "amqp://127.0.0.1"},
      {"postgresql://h:5432/db", "postgresql://h:5432/db"},
      {"sqlite:/home/w/weft.db", "sqlite:/home/w/weft.db"},
      {"", ""},
      /* a password in the query */
      {"postgresql://u@h/db?password=hunter2&sslmode=disable",
       "postgresql://u@h/db?password=***&sslmode=disable"},
      /* libpq key/value conninfo, plain and quoted */
      {"host=db user=weft password=hunter2 dbname=weft",
       "host=db user=weft password=*** dbname=weft"},
      {"host=db password='with space \\' quote' user=u", "host=db password=*** user=u"},
      {"PASSWORD=x", "PASSWORD=***"},
      /* not a password key */
      {"old_password=x", "old_password=x"},
      /* inside a message, several times */
      {"cannot connect to postgres://a:b@h/d nor amqp://c:d@h2: refused",
       "cannot connect to postgres://a:***@h/d nor amqp://c:***@h2: refused"},
      {"got 'amqp://u:pw@h'", "got 'amqp://u:***@h'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (check(cases[i][0], cases[i][1])) return 1;
  ASSERT(weft_redact(NULL) == NULL);
  return 0;
}

TEST(messages_quoting_the_password) {
  char msg[256];
  strcpy(msg, "FATAL: password authentication failed (hunter2) for user weft");
  weft_redact_secrets_of("postgresql://weft:hunter2@h/db", msg, sizeof msg);
  ASSERT_STR_EQ(msg, "FATAL: password authentication failed (***) for user weft");
  strcpy(msg, "invalid URI: \"postgresql://weft:hunter2@h:x/db\"");
  weft_redact_secrets_of("postgresql://weft:hunter2@h:x/db", msg, sizeof msg);
  ASSERT(!strstr(msg, "hunter2"));
  strcpy(msg, "missing \"=\" after \"quoted value\" in connection info string");
  weft_redact_secrets_of("host=h password='quoted value' x", msg, sizeof msg);
  ASSERT_STR_EQ(msg, "missing \"=\" after \"***\" in connection info string");
  /* a small buffer still ends in a NUL and holds no password */
  char small[12];
  strcpy(small, "pw=hunter2!");
  weft_redact_secrets_of("amqp://u:hunter2@h", small, sizeof small);
  ASSERT_STR_EQ(small, "pw=***!");
  return 0;
}

TEST_MAIN(TEST_ENTRY(urls) TEST_ENTRY(messages_quoting_the_password))
