/* correct_cli.c: `correct --dictionary FILE [TEXT]`: offline "did you mean" from a SymSpell
 * `word count` dictionary, for TEXT or for every line on stdin; needs no server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correct_cli.h"
#include "shop.h"
#include "symspell.h"

static void correct_usage(FILE *fp) {
    fprintf(fp,
            "usage: shopstream query correct --dictionary FILE [--max-distance N] [TEXT...]\n"
            "  Corrects TEXT word by word (words in the dictionary stay as typed) and prints it;\n"
            "  without TEXT, corrects each line of stdin and prints one line per line.\n"
            "  FILE holds `word count` lines (SymSpell's format, e.g.\n"
            "  frequency_dictionary_en_82_765.txt). --max-distance is 1..3, default 2.\n");
}

/* Prints the correction of `text` followed by a newline; returns 0 or 1. */
static int print_correction(const shop_symspell_t *s, const char *text) {
    char err[256];
    char *fixed = shop_symspell_correct_text(s, text, err, sizeof(err));
    if (!fixed) {
        char q[300];
        SHOP_WARN("msg=%s", shop_log_quote(q, sizeof(q), err));
        puts(text); /* one output line per input line, even for a line we cannot read */
        return 1;
    }
    puts(fixed);
    free(fixed);
    return 0;
}

static int correct_stdin(const shop_symspell_t *s) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        rc |= print_correction(s, line);
    }
    free(line);
    return rc;
}

int shop_cmd_correct(int argc, char **argv) {
    const char *dict = NULL;
    int max_distance = 2, i;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            return correct_usage(stdout), 0;
        } else if (!strcmp(argv[i], "--dictionary") && i + 1 < argc) {
            dict = argv[++i];
        } else if (!strcmp(argv[i], "--max-distance") && i + 1 < argc) {
            max_distance = atoi(argv[++i]);
        } else {
            return correct_usage(stderr), 2;
        }
    }
    if (!dict || max_distance < 1 || max_distance > 3)
        return correct_usage(stderr), 2;
    shop_symspell_t *s = shop_symspell_new(max_distance, 7);
    char err[512];
    if (shop_symspell_load_dictionary(s, dict, err, sizeof(err))) {
        fprintf(stderr, "correct: %s\n", err);
        shop_symspell_destroy(s);
        return 1;
    }
    int rc;
    if (i < argc) {
        shop_buf_t text;
        shop_buf_init(&text);
        for (int j = i; j < argc; j++) {
            if (j > i)
                shop_buf_puts(&text, " ");
            shop_buf_puts(&text, argv[j]);
        }
        rc = print_correction(s, text.buf);
        shop_buf_release(&text);
    } else {
        rc = correct_stdin(s);
    }
    shop_symspell_destroy(s);
    return rc;
}
