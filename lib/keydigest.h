/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keydigest.h - API keys, their deployment secrets and digests (DESIGN §8).
 *
 * A key is "tg_", one digit 1-9 (the version of the secret it was issued
 * under) and 39 base62 characters [0-9A-Za-z] from getrandom(): 43 characters.
 * Keys are never stored: the kernel, Redis and Postgres know them by their
 * digest, SipHash-2-4 with 128-bit output over the raw key bytes, keyed by
 * that version's 16-byte secret. The hash is tg_siphash() of
 * bpf/lib/siphash.h, the very code the XDP program runs.
 *
 * The secret file (security.key_secret_file, mode 0600) holds lines
 *
 *	VERSION HEX32		# e.g. "1 00112233445566778899aabbccddeeff"
 *
 * plus blank lines and '#' comments. At most two versions are active, so
 * secrets rotate without invalidating every key at once: the last two lines
 * win, and a later line for a version replaces the earlier one.
 */
#ifndef TG_LIB_KEYDIGEST_H
#define TG_LIB_KEYDIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bpf/tollgate_abi.h"

#define KEYDIGEST_PREFIX "tg_"
#define KEYDIGEST_KEY_LEN 43	 /* "tg_" + version digit + 39 base62 */
#define KEYDIGEST_RANDOM_LEN 39	 /* base62 characters after the version */
#define KEYDIGEST_DIGEST_LEN 16	 /* bytes of a digest */
#define KEYDIGEST_HEX_LEN 32	 /* characters of a digest in hex */
#define KEYDIGEST_SECRET_LEN 16	 /* bytes of a secret */
#define KEYDIGEST_VERSION_MAX 9	 /* secret versions are 1..9 */
#define KEYDIGEST_ACTIVE_MAX 2	 /* secret versions active at once */
#define KEYDIGEST_FILE_MAX 65536 /* largest secret file read */

/* The active secrets, indexed by version (slot 0 is never valid). */
struct key_secrets {
	struct {
		bool valid;
		uint8_t key[KEYDIGEST_SECRET_LEN];
	} v[TG_SECRET_SLOTS];
};

/*
 * keydigest_key_valid() - whether @key[0..@len) has the form of an API key:
 * exactly "tg_", a digit 1-9 and 39 base62 characters. Says nothing about
 * whether the key exists.
 */
bool keydigest_key_valid(const char *key, size_t len);

/*
 * keydigest_load_secrets() - read the secret file at @path into @ret.
 *
 * The file must be a regular file that neither group nor others may read or
 * write. Returns 0, or a negative errno with a message in @err (size @errlen,
 * may be 0) naming security.key_secret_file and the path, never a secret:
 *   -ENOENT etc.  cannot be opened (the errno of open(2))
 *   -EPERM        group or others may read or write it ("... is readable by
 *                 group or others (chmod 600)")
 *   -EINVAL       not a regular file, or a bad line (the message names the
 *                 line number)
 *   -EFBIG        larger than KEYDIGEST_FILE_MAX
 *   -ENOKEY       no secret in it
 * @ret is written only on success.
 */
int keydigest_load_secrets(const char *path, struct key_secrets *ret, char *err, size_t errlen);

/*
 * keydigest_digest() - the digest of @key[0..@len) under @secrets.
 * Returns 0, -EINVAL if the key is malformed (keydigest_key_valid()), or
 * -ENOKEY if its version has no active secret. @ret_digest is written only on
 * success.
 */
int keydigest_digest(const struct key_secrets *secrets, const char *key, size_t len,
		     uint8_t ret_digest[KEYDIGEST_DIGEST_LEN]);

/* keydigest_hex() - @digest as 32 lowercase hex characters and a NUL. */
void keydigest_hex(const uint8_t digest[KEYDIGEST_DIGEST_LEN], char out[KEYDIGEST_HEX_LEN + 1]);

/*
 * keydigest_parse_hex() - a NUL-terminated string of exactly 32 hex
 * characters (either case) into @ret. Returns 0 or -EINVAL (@ret untouched).
 */
int keydigest_parse_hex(const char *hex, uint8_t ret[KEYDIGEST_DIGEST_LEN]);

/*
 * keydigest_generate() - a new random key of secret version @version (1-9)
 * into @ret_key, NUL-terminated. The base62 characters are uniform: random
 * bytes >= 248 are drawn again rather than reduced with a bias.
 * Returns 0, -EINVAL for a bad version, or the -errno of getrandom(2).
 */
int keydigest_generate(unsigned int version, char ret_key[KEYDIGEST_KEY_LEN + 1]);

/*
 * keydigest_secret_new() - append a new random secret to the secret file at
 * @path (`tollgatectl secret new`), creating the file with mode 0600.
 *
 * The new version follows the newest one, the version of the file's last
 * line: (last % 9) + 1, so 9 wraps to 1; 1 for an empty or new file. With the
 * last two lines active, the new secret and the one before it are then in use
 * and the oldest retires. The file is locked (flock) while it is read and
 * appended, and synced.
 * Returns 0 and the version in @ret_version; -EPERM if an existing file is
 * open to group or others (nothing is written then); -EINVAL if it is not a
 * regular file or holds a bad line; -EFBIG; or another -errno.
 */
int keydigest_secret_new(const char *path, unsigned int *ret_version);

#endif /* TG_LIB_KEYDIGEST_H */
