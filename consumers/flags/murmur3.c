/* murmur3.c: MurmurHash3 x86_32 and Unleash's normalised hash over it. */
/* MurmurHash3 by Austin Appleby (public domain, github.com/aappleby/smhasher,
 * src/MurmurHash3.cpp, MurmurHash3_x86_32); written here from that reference. Blocks are read
 * byte by byte as little-endian, so the hash is the same on every host. */
#include <string.h>

#include "flags.h"
#include "shop.h"

static uint32_t rotl32(uint32_t x, int r) {
    return (x << r) | (x >> (32 - r));
}

static uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint32_t shop_murmur3_32(const void *key, size_t len, uint32_t seed) {
    const uint8_t *data = key;
    const size_t nblocks = len / 4;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h1 = seed, k1;

    for (size_t i = 0; i < nblocks; i++) {
        const uint8_t *p = data + i * 4;
        k1 = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl32(h1, 13);
        h1 = h1 * 5 + 0xe6546b64u;
    }

    const uint8_t *tail = data + nblocks * 4;
    k1 = 0;
    switch (len & 3) {
    case 3:
        k1 ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k1 ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k1 ^= tail[0];
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
    }

    h1 ^= (uint32_t)len;
    return fmix32(h1);
}

uint32_t shop_flags_normalized_hash(const char *id, const char *group, uint32_t modulus,
                                    uint32_t seed) {
    if (modulus == 0)
        return 0;
    shop_buf_t b;
    shop_buf_init(&b);
    shop_buf_puts(&b, group ? group : "");
    shop_buf_puts(&b, ":");
    shop_buf_puts(&b, id ? id : "");
    uint32_t h = shop_murmur3_32(b.buf, b.len, seed);
    shop_buf_release(&b);
    return h % modulus + 1;
}
