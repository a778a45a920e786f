/* credential_env.h: which environment entries hold weft's own credentials
 * (steps and the Python describe subprocess are started without them). */
#ifndef WEFT_UTIL_CREDENTIAL_ENV_H
#define WEFT_UTIL_CREDENTIAL_ENV_H

/* entry: "NAME=value" or "NAME". 1 when NAME is one of weft's credentials. */
int weft_env_is_credential(const char *entry);

#endif
