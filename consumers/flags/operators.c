/* operators.c: the two constraint operands that need parsing of their own: SemVer 2.0.0
 * precedence (semver.org, section 11) and RE2-syntax patterns mapped onto POSIX regcomp. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "flags_int.h"

/* --- SemVer ----------------------------------------------------------------------------------- */

typedef struct {
    unsigned long long core[3];
    const char *pre; /* points into the source string; NULL without a pre-release */
    size_t pre_len;
} semver_t;

/* A numeric identifier: digits, no leading zero unless it is "0". Returns chars consumed or 0. */
static size_t semver_num(const char *s, unsigned long long *out) {
    size_t n = 0;
    while (isdigit((unsigned char)s[n]))
        n++;
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return 0;
    *out = strtoull(s, NULL, 10);
    return n;
}

/* Checks dot-separated identifiers of [0-9A-Za-z-], none empty, numeric ones without leading
 * zeros when `strict_numeric`. Returns the length consumed (up to '+' or the end), 0 if bad. */
static size_t semver_idents(const char *s, int strict_numeric) {
    size_t i = 0, start = 0;
    for (;; i++) {
        char ch = s[i];
        if (ch == '.' || ch == '\0' || ch == '+') {
            size_t len = i - start;
            if (len == 0)
                return 0;
            int numeric = 1;
            for (size_t k = start; k < i; k++)
                numeric &= isdigit((unsigned char)s[k]) != 0;
            if (strict_numeric && numeric && len > 1 && s[start] == '0')
                return 0;
            if (ch != '.')
                return i;
            start = i + 1;
        } else if (!isalnum((unsigned char)ch) && ch != '-') {
            return 0;
        }
    }
}

static int semver_parse(const char *s, semver_t *v) {
    memset(v, 0, sizeof(*v));
    for (int part = 0; part < 3; part++) {
        size_t n = semver_num(s, &v->core[part]);
        if (n == 0)
            return -1;
        s += n;
        if (part < 2 && *s++ != '.')
            return -1;
    }
    if (*s == '-') {
        size_t n = semver_idents(s + 1, 1);
        if (n == 0)
            return -1;
        v->pre = s + 1;
        v->pre_len = n;
        s += 1 + n;
    }
    if (*s == '+') {
        size_t n = semver_idents(s + 1, 0);
        if (n == 0 || s[1 + n] != '\0')
            return -1;
        s += 1 + n;
    }
    return *s == '\0' ? 0 : -1;
}

static int cmp_ull(unsigned long long a, unsigned long long b) {
    return a < b ? -1 : a > b;
}

/* Compares one pre-release identifier of each: numeric ones numerically and below alphanumeric
 * ones, alphanumeric ones in ASCII order. */
static int semver_ident_cmp(const char *a, size_t al, const char *b, size_t bl) {
    int an = 1, bn = 1;
    for (size_t i = 0; i < al; i++)
        an &= isdigit((unsigned char)a[i]) != 0;
    for (size_t i = 0; i < bl; i++)
        bn &= isdigit((unsigned char)b[i]) != 0;
    if (an && bn)
        return al != bl ? (al < bl ? -1 : 1) : (memcmp(a, b, al) > 0) - (memcmp(a, b, al) < 0);
    if (an != bn)
        return an ? -1 : 1;
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return cmp_ull(al, bl);
}

static int semver_pre_cmp(const semver_t *a, const semver_t *b) {
    if (!a->pre || !b->pre)
        return a->pre ? -1 : (b->pre ? 1 : 0); /* a release outranks its pre-releases */
    const char *pa = a->pre, *pb = b->pre, *ea = a->pre + a->pre_len, *eb = b->pre + b->pre_len;
    while (pa < ea && pb < eb) {
        const char *da = memchr(pa, '.', (size_t)(ea - pa)),
                   *db = memchr(pb, '.', (size_t)(eb - pb));
        size_t la = (size_t)((da ? da : ea) - pa), lb = (size_t)((db ? db : eb) - pb);
        int c = semver_ident_cmp(pa, la, pb, lb);
        if (c != 0)
            return c;
        pa += la + (da ? 1 : 0);
        pb += lb + (db ? 1 : 0);
        if (!da || !db)
            return da ? 1 : (db ? -1 : 0); /* the longer set of identifiers is greater */
    }
    return 0;
}

int flag_semver_cmp(const char *a, const char *b, int *cmp) {
    semver_t va, vb;
    if (!a || !b || semver_parse(a, &va) < 0 || semver_parse(b, &vb) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        int c = cmp_ull(va.core[i], vb.core[i]);
        if (c != 0) {
            *cmp = c;
            return 0;
        }
    }
    *cmp = semver_pre_cmp(&va, &vb);
    return 0;
}

/* --- RE2 patterns on POSIX regcomp -------------------------------------------------------------
 * Only a yes/no match is needed, so lazy quantifiers may become greedy ones and groups need no
 * capture; what RE2 itself rejects (lookaround, backreferences) is rejected here too. glibc's
 * extended syntax already has \b, \B and [[:class:]]; Perl classes are spelled out. */

typedef struct {
    int dotall;
    int in_bracket;
} re_state_t;

static int re_escape(char c, shop_buf_t *out, const re_state_t *st) {
    const char *cls = NULL, *neg = NULL;
    switch (c) {
    case 'd':
        cls = "0-9";
        break;
    case 'D':
        neg = "0-9";
        break;
    case 's':
        cls = "[:space:]";
        break;
    case 'S':
        neg = "[:space:]";
        break;
    case 'w':
        cls = "[:alnum:]_";
        break;
    case 'W':
        neg = "[:alnum:]_";
        break;
    default:
        break;
    }
    if (cls || neg) {
        if (st->in_bracket && neg)
            return -1;
        if (st->in_bracket)
            shop_buf_puts(out, cls);
        else
            shop_buf_printf(out, "[%s%s]", neg ? "^" : "", neg ? neg : cls);
        return 0;
    }
    if (isdigit((unsigned char)c))
        return -1; /* backreference (or octal): not RE2 */
    const char *lit = c == 'n' ? "\n" : c == 't' ? "\t" : c == 'r' ? "\r" : NULL;
    if (lit) {
        shop_buf_puts(out, lit);
        return 0;
    }
    if (st->in_bracket) {
        if (c == ']' || c == '\\' || c == '^' || c == '-')
            return -1; /* POSIX brackets cannot escape these */
        shop_buf_append(out, &c, 1);
        return 0;
    }
    if (c == 'A' || c == 'z') {
        shop_buf_puts(out, c == 'A' ? "^" : "$");
        return 0;
    }
    if (c == 'b' || c == 'B' || ispunct((unsigned char)c)) {
        char e[2] = {'\\', c};
        shop_buf_append(out, e, 2);
        return 0;
    }
    return -1;
}

/* Handles "(?" at p: inline flags "(?ims)", flag groups "(?i:", non-capturing "(?:", named groups;
 * returns the pattern characters consumed, or 0 for what must be rejected. */
static size_t re_group(const char *p, shop_buf_t *out, int *cflags, re_state_t *st) {
    size_t i = 2;
    if (p[i] == 'P' || p[i] == '<') {
        if (p[i] == '<' && (p[i + 1] == '=' || p[i + 1] == '!'))
            return 0; /* lookbehind */
        const char *close = strchr(p + i, '>');
        if (!close)
            return 0;
        shop_buf_puts(out, "(");
        return (size_t)(close - p) + 1;
    }
    int neg = 0;
    for (;; i++) {
        char c = p[i];
        if (c == 'i' && !neg)
            *cflags |= REG_ICASE;
        else if (c == 'm' && !neg)
            *cflags |= REG_NEWLINE;
        else if (c == 's')
            st->dotall = !neg;
        else if (c == 'U' || c == 'i' || c == 'm')
            ; /* ungreedy or switched-off flags change nothing for a yes/no match */
        else if (c == '-')
            neg = 1;
        else if (c == ')')
            return i + 1;
        else if (c == ':') {
            shop_buf_puts(out, "(");
            return i + 1;
        } else
            return 0; /* lookahead "(?=", "(?!" and anything unknown */
    }
}

int flag_regex_translate(const char *pattern, shop_buf_t *out, int *cflags) {
    re_state_t st = {0, 0};
    for (const char *p = pattern; *p;) {
        char c = *p;
        if (st.in_bracket) {
            if (c == '[' && p[1] == ':') {
                const char *end = strstr(p + 2, ":]");
                if (!end)
                    return -1;
                shop_buf_append(out, p, (size_t)(end + 2 - p));
                p = end + 2;
                continue;
            }
            if (c == '\\') {
                if (!p[1] || re_escape(p[1], out, &st) < 0)
                    return -1;
                p += 2;
                continue;
            }
            if (c == ']')
                st.in_bracket = 0;
            shop_buf_append(out, p++, 1);
            continue;
        }
        if (c == '\\') {
            if (!p[1] || re_escape(p[1], out, &st) < 0)
                return -1;
            p += 2;
        } else if (c == '(' && p[1] == '?') {
            size_t n = re_group(p, out, cflags, &st);
            if (n == 0)
                return -1;
            p += n;
        } else if (c == '[') {
            shop_buf_puts(out, "[");
            p++;
            if (*p == '^')
                shop_buf_append(out, p++, 1);
            if (*p == ']')
                shop_buf_append(out, p++, 1);
            st.in_bracket = 1;
        } else if (c == '.' && !st.dotall) {
            shop_buf_puts(out, "[^\n]");
            p++;
        } else if (c == '*' || c == '+' || c == '?' || c == '}') {
            shop_buf_append(out, p++, 1);
            if (*p == '?')
                p++; /* lazy: same yes/no answer as greedy */
            else if (*p == '+')
                return -1; /* possessive: not RE2 */
        } else {
            shop_buf_append(out, p++, 1);
        }
    }
    return st.in_bracket ? -1 : 0;
}
