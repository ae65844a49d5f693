/* user.c: the user service (:8086). POST /check {"username", "password"}
 * answers {"correct": true|false}, as DeathStarBench's CheckUser does.
 * Users live in PostgreSQL (mongodb-user), queried per request; a password
 * is never stored, only a random salt and SHA-256(salt || password),
 * compared in constant time. Seed users Cornell_0 .. Cornell_500 with the
 * password N written ten times.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hr.h"

static struct kit_pg *user_db;

/* ---- SHA-256 (FIPS 180-4) --------------------------------------------- */

struct sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t used;
    uint64_t bytes;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->used = 0;
    s->bytes = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->bytes += n;
    while (n) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take, p += take, n -= take;
        if (s->used == 64) {
            sha256_block(s, s->block);
            s->used = 0;
        }
    }
}

static void sha256_hex(struct sha256 *s, char out[65])
{
    uint64_t bits = s->bytes * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    sha256_update(s, &pad, 1);
    while (s->used != 56) sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

static void password_hash(const char *salt, const char *password, char out[65])
{
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, salt, strlen(salt));
    sha256_update(&s, password, strlen(password));
    sha256_hex(&s, out);
}

/* ---- seed and service ---------------------------------------------------- */

static int user_seed(struct kit *k, PGconn *c)
{
    if (hr_seed_exec(k, c,
                     "CREATE TABLE IF NOT EXISTS users (username text CONSTRAINT users_pkey PRIMARY KEY, salt text NOT NULL, password_sha256 "
                     "text NOT NULL)",
                     0, NULL))
        return -1;
    long n = hr_seed_count(k, c, "SELECT count(*) FROM users");
    if (n < 0) return -1;
    if (n >= HR_USERS) return 0;
    if (hr_seed_exec(k, c, "BEGIN", 0, NULL)) return -1;
    for (int i = 0; i < HR_USERS; i++) {
        char name[32], password[64] = "", digits[8], salt[33], hash[65];
        uint8_t raw[16];
        snprintf(name, sizeof name, "Cornell_%d", i);
        snprintf(digits, sizeof digits, "%d", i);
        for (int j = 0; j < 10; j++) {
            size_t l = strlen(password);
            snprintf(password + l, sizeof password - l, "%s", digits);
        }
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
            kit_logf(k, KIT_ERROR, "seed: getrandom failed");
            return -1;
        }
        for (int j = 0; j < 16; j++) snprintf(salt + 2 * j, 3, "%02x", raw[j]);
        password_hash(salt, password, hash);
        const char *p[3] = {name, salt, hash};
        if (hr_seed_exec(k, c, "INSERT INTO users VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, p)) return -1;
    }
    if (hr_seed_exec(k, c, "COMMIT", 0, NULL)) return -1;
    kit_logf(k, KIT_INFO, "seed: %d users loaded", HR_USERS);
    return 0;
}

static void check_user(struct kit_req *r, void *arg)
{
    (void)arg;
    char err[512];
    json_t *b = kit_json(r, err, sizeof err);
    if (!b) {
        kit_reply_error(r, 400, "%s", err);
        return;
    }
    const char *username = json_string_value(json_object_get(b, "username"));
    const char *password = json_string_value(json_object_get(b, "password"));
    if (!username || !password || !*username || strlen(username) > 128 || strlen(password) > 256) {
        kit_reply_error(r, 400, "Please specify username and password");
        return;
    }
    const char *p[1] = {username};
    PGresult *res =
        hr_pg(r, user_db, "SELECT salt, password_sha256 FROM users WHERE username = $1", 1, p, err, sizeof err);
    if (!res) {
        kit_reply_error(r, 500, "%s", err);
        return;
    }
    int correct = 0;
    if (PQntuples(res) == 1 && strlen(PQgetvalue(res, 0, 1)) == 64) {
        char hash[65];
        password_hash(PQgetvalue(res, 0, 0), password, hash);
        const char *want = PQgetvalue(res, 0, 1);
        unsigned diff = 0;
        for (int i = 0; i < 64; i++) diff |= (unsigned)(hash[i] ^ want[i]);
        correct = diff == 0;
    }
    PQclear(res);
    if (!correct) kit_log(r, KIT_INFO, "login failed for user %s", username);
    kit_reply_json(r, 200, json_pack("{s:b}", "correct", correct));
}

int hr_user(void)
{
    struct kit *k = hr_kit_new("user");
    user_db = kit_pg_new(k, "USER_DB");
    hr_seed_run(k, "USER_DB", user_seed);
    kit_handle(k, "POST", "/check", "CheckUser", check_user, NULL);
    int rc = kit_serve(k);
    kit_free(k);
    return rc;
}
