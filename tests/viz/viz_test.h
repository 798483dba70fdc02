/* viz_test.h — a tiny check harness shared by the viz C tests: CHECK counts
 * failures and prints where they happened; TEST_END turns the count into the
 * exit status ctest reads. */
#ifndef EMBER_VIZ_TEST_H
#define EMBER_VIZ_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int viz_test_failures;
static int viz_test_checks;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        viz_test_checks++;                                                               \
        if (!(cond)) {                                                                   \
            viz_test_failures++;                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        viz_test_checks++;                                                               \
        if (!(cond)) {                                                                   \
            viz_test_failures++;                                                         \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

#define TEST_END()                                                                       \
    do {                                                                                 \
        printf("%d checks, %d failed\n", viz_test_checks, viz_test_failures);            \
        return viz_test_failures ? 1 : 0;                                                \
    } while (0)

#endif
