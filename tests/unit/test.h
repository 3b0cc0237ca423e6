/* test.h — a minimal unit-test harness: CHECK records a failure and goes on,
 * TEST_MAIN runs the listed tests and prints "N passed, N failed". */
#ifndef MG_TEST_H
#define MG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mg_test_failures;
static int mg_test_checks;

/* The shipped SQL migrations: $MOONGATE_HOME/schema (ctest sets it), else
 * the source tree the tests were built from, else ./schema. */
static inline const char *schema_dir(void)
{
    static char path[4096];
    const char *home = getenv("MOONGATE_HOME");
#ifdef MG_HOME
    if (!home || !*home)
        home = MG_HOME;
#endif
    snprintf(path, sizeof path, "%s/schema", home && *home ? home : ".");
    return path;
}

#define CHECK(cond)                                                                   \
    do {                                                                              \
        mg_test_checks++;                                                             \
        if (!(cond)) {                                                                \
            mg_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                            \
    do {                                                                              \
        long long va_ = (long long)(a), vb_ = (long long)(b);                         \
        mg_test_checks++;                                                             \
        if (va_ != vb_) {                                                             \
            mg_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,       \
                    __LINE__, #a, #b, va_, vb_);                                      \
        }                                                                             \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                            \
    do {                                                                              \
        const char *sa_ = (a), *sb_ = (b);                                            \
        mg_test_checks++;                                                             \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                  \
            mg_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,   \
                    __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");    \
        }                                                                             \
    } while (0)

typedef struct { const char *name; void (*fn)(void); } mg_test_case;

#define TEST_MAIN(...)                                                                \
    int main(void)                                                                    \
    {                                                                                 \
        mg_test_case cases_[] = {__VA_ARGS__};                                        \
        int passed_ = 0, failed_ = 0;                                                 \
        for (size_t i_ = 0; i_ < sizeof cases_ / sizeof cases_[0]; i_++) {           \
            int before_ = mg_test_failures;                                           \
            cases_[i_].fn();                                                          \
            if (mg_test_failures == before_) {                                        \
                passed_++;                                                            \
                printf("ok   %s\n", cases_[i_].name);                                 \
            } else {                                                                  \
                failed_++;                                                            \
                printf("FAIL %s\n", cases_[i_].name);                                 \
            }                                                                         \
        }                                                                             \
        printf("%d passed, %d failed\n", passed_, failed_);                           \
        return failed_ ? 1 : 0;                                                       \
    }

#define T(fn) {#fn, fn}

#endif
