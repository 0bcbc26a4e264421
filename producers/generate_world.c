/* generate_world.c: the synthetic shop's vocabulary (Korean and English), catalog and customers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate_int.h"

const gen_category_t shop_gen_categories[] = {
    {"sunglasses", "sunglasses", "선글라스", 29000, 390000},
    {"sneakers", "sneakers", "운동화", 59000, 259000},
    {"running-shoes", "running shoes", "러닝화", 79000, 289000},
    {"t-shirt", "t-shirt", "티셔츠", 12900, 59000},
    {"hoodie", "hoodie", "후드티", 29000, 129000},
    {"jeans", "jeans", "청바지", 39000, 159000},
    {"dress", "dress", "원피스", 39000, 229000},
    {"coat", "coat", "코트", 89000, 590000},
    {"backpack", "backpack", "백팩", 39000, 289000},
    {"wallet", "wallet", "지갑", 29000, 259000},
    {"cap", "cap", "볼캡", 19000, 59000},
    {"headphones", "headphones", "헤드폰", 49000, 459000},
    {"earbuds", "wireless earbuds", "무선 이어폰", 39000, 329000},
    {"smartwatch", "smartwatch", "스마트워치", 129000, 599000},
    {"phone-case", "phone case", "휴대폰 케이스", 9900, 39000},
    {"keyboard", "keyboard", "키보드", 39000, 259000},
    {"lipstick", "lipstick", "립스틱", 12000, 45000},
    {"moisturizer", "moisturizer", "수분크림", 15000, 68000},
    {"sunscreen", "sunscreen", "선크림", 12000, 35000},
    {"tumbler", "tumbler", "텀블러", 15000, 45000},
    {"umbrella", "umbrella", "우산", 9900, 39000},
    {"socks", "socks", "양말", 5900, 19000},
};
const int shop_gen_ncategories =
    (int)(sizeof(shop_gen_categories) / sizeof(shop_gen_categories[0]));

const gen_word_t shop_gen_colors[] = {
    {"red", "빨간색"},  {"black", "검은색"}, {"white", "흰색"},    {"blue", "파란색"},
    {"navy", "네이비"}, {"beige", "베이지"}, {"pink", "핑크"},     {"green", "초록색"},
    {"gray", "회색"},   {"brown", "갈색"},   {"yellow", "노란색"}, {"purple", "보라색"},
};
const int shop_gen_ncolors = (int)(sizeof(shop_gen_colors) / sizeof(shop_gen_colors[0]));

const gen_word_t shop_gen_adjs[] = {
    {"basic", "베이직"},    {"premium", "프리미엄"},
    {"vintage", "빈티지"},  {"oversized", "오버핏"},
    {"slim", "슬림"},       {"lightweight", "경량"},
    {"waterproof", "방수"}, {"limited edition", "한정판"},
    {"classic", "클래식"},  {"sporty", "스포티"},
};
const int shop_gen_nadjs = (int)(sizeof(shop_gen_adjs) / sizeof(shop_gen_adjs[0]));

const gen_word_t shop_gen_brands[] = {
    {"Hanbit", "한빛"},
    {"Moa", "모아"},
    {"Seoul Atelier", "서울 아틀리에"},
    {"NorthPeak", "노스피크"},
    {"Daon", "다온"},
    {"Urban Nomad", "어반 노마드"},
    {"Gaon", "가온"},
    {"Sora", "소라"},
    {"Nuri", "누리"},
    {"Haneul", "하늘"},
    {"Kite & Co", "카이트앤코"},
    {"Mint Lab", "민트랩"},
    {"Ondo", "온도"},
};
const int shop_gen_nbrands = (int)(sizeof(shop_gen_brands) / sizeof(shop_gen_brands[0]));

/* Legit customers come from the first five; account takeovers and card testers from the rest. */
const gen_country_t shop_gen_countries[] = {
    {"KR", "ko-KR", "Asia/Seoul", GEN_KR, GEN_KRW},
    {"US", "en-US", "America/New_York", GEN_US, GEN_USD},
    {"JP", "ja-JP", "Asia/Tokyo", GEN_KR, GEN_USD},
    {"SG", "en-SG", "Asia/Singapore", GEN_KR, GEN_USD},
    {"CA", "en-CA", "America/Toronto", GEN_US, GEN_USD},
    {"NG", "en-NG", "Africa/Lagos", GEN_US, GEN_USD},
    {"RU", "ru-RU", "Europe/Moscow", GEN_KR, GEN_USD},
    {"BR", "pt-BR", "America/Sao_Paulo", GEN_US, GEN_USD},
    {"VN", "vi-VN", "Asia/Ho_Chi_Minh", GEN_KR, GEN_USD},
    {"RO", "ro-RO", "Europe/Bucharest", GEN_US, GEN_USD},
};
const int shop_gen_nlegit_countries = 5;
const int shop_gen_ncountries = (int)(sizeof(shop_gen_countries) / sizeof(shop_gen_countries[0]));

const char *const shop_gen_sources[] = {"web",       "pwa",    "ios",           "android",
                                        "inventory", "points", "visual-search", "backoffice"};
const char *const shop_gen_signup_refs[] = {"direct", "instagram", "naver", "friend_referral"};
const char *const shop_gen_referrers[] = {"direct", "search", "reco", "visual-search", "wishlist"};
const char *const shop_gen_pay_methods[] = {"card",          "kakaopay", "naverpay", "tosspay",
                                            "bank_transfer", "paypal",   "apple_pay"};
const char *const shop_gen_fail_reasons[] = {"card_declined", "insufficient_funds", "invalid_cvc",
                                             "expired_card", "processing_error"};
const char *const shop_gen_reasons[] = {"customer_request",
                                        "payment_failed",
                                        "returned",
                                        "cancelled",
                                        "item_not_received",
                                        "fraud_card_testing",
                                        "fraud_account_takeover",
                                        "fraud_points_abuse",
                                        "fraud_bulk_buying",
                                        "signup_bonus",
                                        "purchase",
                                        "daily_checkin",
                                        "referral",
                                        "review"};
const char *const shop_gen_notif_types[] = {"restock",      "price_drop",      "level_up",
                                            "order_status", "similar_product", "*"};
const char *const shop_gen_channels[] = {"webhook", "email", "in_app", "push", "*"};
const char *const shop_gen_tiers[] = {"bronze", "silver", "gold", "platinum", "diamond", "vip"};
const char *const shop_gen_badges[] = {"newcomer",  "regular",    "trendsetter",
                                       "collector", "tastemaker", "legend"};
const int64_t shop_gen_level_points[] = {0, 2000, 6000, 15000, 40000, 100000};
/* Things people look for that the shop does not sell: Korean ones first, then English. */
const char *const shop_gen_unsold_queries[] = {
    "아이폰 16",   "닌텐도 스위치", "노트북",         "캠핑 의자", "골프공",   "전기자전거",
    "airpods pro", "gaming chair",  "lego star wars", "air fryer", "yoga mat", "standing desk"};
const int shop_gen_nunsold_ko = 6;
const int shop_gen_nunsold = 12;

void shop_gen_user_id(char out[24], uint32_t user) {
    snprintf(out, 24, "u-%06u", user + 1);
}

void shop_gen_product_id(char out[24], uint32_t product) {
    snprintf(out, 24, "p-%05u", product + 1);
}

static int64_t round_to(int64_t v, int64_t unit) {
    return (v + unit / 2) / unit * unit;
}

int64_t shop_gen_price_in(const shop_gen_t *g, uint32_t product, int currency) {
    const gen_product_t *p = &g->products[product];
    if (p->currency == currency)
        return p->price;
    if (currency == GEN_USD) { /* won -> cents, shelf price ending in .99 */
        int64_t cents = p->price * 100 / GEN_KRW_PER_USD;
        return cents < 100 ? 99 : cents / 100 * 100 + 99;
    }
    return round_to(p->price * GEN_KRW_PER_USD / 100, 100); /* cents -> won */
}

static void make_product(shop_gen_t *g, gen_product_t *p) {
    shop_gen_rng_t *r = &g->rng;
    p->cat = (uint8_t)shop_gen_rng_below(r, (uint32_t)shop_gen_ncategories);
    p->color = (uint8_t)shop_gen_rng_below(r, (uint32_t)shop_gen_ncolors);
    p->brand = (uint8_t)shop_gen_rng_below(r, (uint32_t)shop_gen_nbrands);
    p->adj = (uint8_t)shop_gen_rng_below(r, (uint32_t)shop_gen_nadjs);
    const gen_category_t *c = &shop_gen_categories[p->cat];
    /* log-uniform-ish: cheap items are more common than expensive ones */
    double u = shop_gen_rng_unit(r);
    int64_t krw = c->min_krw + (int64_t)((double)(c->max_krw - c->min_krw) * u * u);
    krw = krw < 10000 ? round_to(krw, 100) - 100 : round_to(krw, 1000) - 100;
    if (krw < 1000)
        krw = 1000;
    if (shop_gen_rng_chance(r, 0.08)) { /* imported, listed in dollars */
        p->currency = GEN_USD;
        p->price = krw * 100 / GEN_KRW_PER_USD / 100 * 100 + 99;
    } else {
        p->currency = GEN_KRW;
        p->price = krw;
    }
    for (int reg = 0; reg < GEN_NREGIONS; reg++) {
        int low = shop_gen_rng_chance(r, 0.1);
        p->stock[reg] =
            (int32_t)(low ? shop_gen_rng_range(r, 1, 6) : shop_gen_rng_range(r, 20, 400));
        p->avail[reg] = p->stock[reg];
    }
}

static void build_indexes(shop_gen_t *g) {
    uint32_t n = g->nproducts;
    g->by_rank = shop_xmalloc(n * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        g->by_rank[i] = i;
    for (uint32_t i = n; i > 1; i--) { /* popularity is not the id order */
        uint32_t j = shop_gen_rng_below(&g->rng, i);
        uint32_t t = g->by_rank[i - 1];
        g->by_rank[i - 1] = g->by_rank[j];
        g->by_rank[j] = t;
    }
    g->cat_off = shop_xcalloc((size_t)shop_gen_ncategories + 1, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        g->cat_off[g->products[i].cat + 1]++;
    for (int c = 0; c < shop_gen_ncategories; c++)
        g->cat_off[c + 1] += g->cat_off[c];
    uint32_t *fill = shop_xmalloc((size_t)shop_gen_ncategories * sizeof(uint32_t));
    memcpy(fill, g->cat_off, (size_t)shop_gen_ncategories * sizeof(uint32_t));
    g->cat_products = shop_xmalloc(n * sizeof(uint32_t));
    g->cheap = shop_xmalloc(n * sizeof(uint32_t));
    g->ncheap = 0;
    for (uint32_t rank = 0; rank < n; rank++) {
        uint32_t p = g->by_rank[rank];
        g->cat_products[fill[g->products[p].cat]++] = p;
        if (shop_gen_price_in(g, p, GEN_KRW) <= 20000)
            g->cheap[g->ncheap++] = p;
    }
    free(fill);
}

uint32_t shop_gen_new_user(shop_gen_t *g, uint8_t country, int fraudster) {
    if (g->nusers == g->cap_users) {
        g->cap_users = g->cap_users ? g->cap_users * 2 : 1024;
        g->users = shop_xrealloc(g->users, g->cap_users * sizeof(gen_user_t));
    }
    uint32_t id = g->nusers++;
    gen_user_t *u = &g->users[id];
    memset(u, 0, sizeof(*u));
    u->hash = shop_gen_rng_next(&g->rng);
    u->country = country;
    u->flags = fraudster ? GEN_USER_FRAUDSTER : 0;
    u->level = 1;
    double sr = shop_gen_rng_unit(&g->rng);
    u->source = (uint8_t)(sr < 0.35   ? GEN_SRC_WEB
                          : sr < 0.45 ? GEN_SRC_PWA
                          : sr < 0.7  ? GEN_SRC_IOS
                                      : GEN_SRC_ANDROID);
    u->lang = country == 0 ? (uint8_t)shop_gen_rng_chance(&g->rng, 0.12) : 1;
    u->ab = (uint8_t)(shop_gen_rng_below(&g->rng, 3)); /* 0: no experiment, 1: A, 2: B */
    return id;
}

static uint8_t legit_country(shop_gen_rng_t *r) {
    double u = shop_gen_rng_unit(r);
    return (uint8_t)(u < 0.84 ? 0 : u < 0.95 ? 1 : u < 0.97 ? 2 : u < 0.985 ? 3 : 4);
}

void shop_gen_world_init(shop_gen_t *g) {
    g->nproducts = g->conf.products;
    g->products = shop_xcalloc(g->nproducts, sizeof(gen_product_t));
    for (uint32_t i = 0; i < g->nproducts; i++)
        make_product(g, &g->products[i]);
    build_indexes(g);
    shop_gen_zipf_init(&g->product_pop, g->nproducts, 1.07);
    for (uint32_t i = 0; i < g->conf.users; i++) {
        uint32_t id = shop_gen_new_user(g, legit_country(&g->rng), 0); /* may move g->users */
        gen_user_t *u = &g->users[id];
        if (!shop_gen_rng_chance(&g->rng, 0.75))
            continue;                   /* a quarter sign up during the run */
        u->flags |= GEN_USER_SIGNED_UP; /* existing customers, with points from before the run */
        u->points_total = (int64_t)shop_gen_rng_exp(&g->rng, 5000.0);
        u->points = u->points_total * (int64_t)shop_gen_rng_range(&g->rng, 20, 100) / 100;
        while (u->level < GEN_NLEVELS && u->points_total >= shop_gen_level_points[u->level])
            u->level++;
    }
    g->nlegit = g->conf.users;
    shop_gen_zipf_init(&g->user_pop, g->nlegit, 0.6);
}

void shop_gen_world_release(shop_gen_t *g) {
    free(g->products);
    free(g->by_rank);
    free(g->cat_off);
    free(g->cat_products);
    free(g->cheap);
    free(g->users);
    shop_gen_zipf_release(&g->product_pop);
    shop_gen_zipf_release(&g->user_pop);
}

uint32_t shop_gen_pick_product(shop_gen_t *g) {
    return g->by_rank[shop_gen_zipf_draw(&g->product_pop, &g->rng)];
}

static int matches(const gen_product_t *p, int color, int brand) {
    return (color < 0 || p->color == color) && (brand < 0 || p->brand == brand);
}

int shop_gen_count_matching(const shop_gen_t *g, int cat, int color, int brand) {
    int n = 0;
    uint32_t lo = cat < 0 ? 0 : g->cat_off[cat], hi = cat < 0 ? g->nproducts : g->cat_off[cat + 1];
    for (uint32_t i = lo; i < hi; i++)
        n += matches(&g->products[g->cat_products[i]], color, brand);
    return n;
}

/* Walks the matches in popularity order, stopping at each with probability 0.45: searchers
 * mostly open the top results. */
uint32_t shop_gen_pick_matching(shop_gen_t *g, int cat, int color, int brand, int *position) {
    uint32_t lo = cat < 0 ? 0 : g->cat_off[cat], hi = cat < 0 ? g->nproducts : g->cat_off[cat + 1];
    uint32_t first = GEN_NONE;
    int pos = 0;
    for (uint32_t i = lo; i < hi && pos < 40; i++) { /* nobody scrolls past 40 */
        uint32_t p = g->cat_products[i];
        if (!matches(&g->products[p], color, brand))
            continue;
        pos++;
        if (first == GEN_NONE)
            first = p;
        if (shop_gen_rng_chance(&g->rng, 0.45)) {
            if (position)
                *position = pos;
            return p;
        }
    }
    if (position)
        *position = first == GEN_NONE ? 0 : 1; /* back to the top result */
    return first;
}

const gen_country_t *shop_gen_user_country(const shop_gen_t *g, uint32_t user) {
    return &shop_gen_countries[g->users[user].country];
}
