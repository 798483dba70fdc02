/* test_progress.c — tqdm-style progress text, the HTML form, time and rate
 * formats, and the throttle driven by a fake clock. */
#include "viz/progress.h"
#include "viz_test.h"

#include <math.h>
#include <string.h>

static void expect_text(ember_progress_view v, const char *want)
{
    char *got = ember_progress_text(&v);
    CHECK_MSG(got && strcmp(got, want) == 0, "\n  got  \"%s\"\n  want \"%s\"", got ? got : "(null)", want);
    free(got);
}

static void test_text(void)
{
    ember_progress_view v = {.desc = "train", .total = 391, .n = 164, .elapsed = 12.25};
    expect_text(v, "train  42%|\u2588\u2588\u2588\u2588\u258f     | 164/391 [00:12<00:16, 13.4it/s]");
    v.n = 0;
    v.elapsed = 0;
    expect_text(v, "train   0%|          | 0/391 [00:00<?, ?it/s]");
    v.n = 391;
    v.elapsed = 29.5;
    v.status = EMBER_PROGRESS_DONE;
    expect_text(v, "train 100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 391/391 [00:29<00:00, 13.3it/s]");
    /* No description, other unit, slow work shown as seconds per item. */
    ember_progress_view s = {.total = 10, .n = 3, .elapsed = 7.5, .unit = "epoch"};
    expect_text(s, " 30%|\u2588\u2588\u2588       | 3/10 [00:07<00:17, 2.50s/epoch]");
    /* Unknown total. */
    ember_progress_view u = {.desc = "download", .n = 1234, .elapsed = 4, .unit = "B", .total = 0};
    expect_text(u, "download 1234B [00:04, 308B/s]");
    u.total = NAN;
    expect_text(u, "download 1234B [00:04, 308B/s]");
    /* tqdm's postfix goes after the rate, inside the brackets. */
    v.postfix = "loss=1.23, acc=45.6%";
    expect_text(v, "train 100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 391/391 [00:29<00:00, 13.3it/s, loss=1.23, acc=45.6%]");
    u.postfix = "";
    expect_text(u, "download 1234B [00:04, 308B/s]");
    /* Hours, and a wider bar with every partial block. */
    ember_progress_view h = {.desc = "fit", .total = 8, .n = 1, .elapsed = 3725, .bar_width = 8};
    expect_text(h, "fit  12%|\u2588       | 1/8 [1:02:05<7:14:35, 3725.00s/it]");
    /* More items than the total: the bar stays full, nothing overflows. */
    ember_progress_view o = {.total = 5, .n = 7, .elapsed = 1};
    expect_text(o, "100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 7/5 [00:01<00:00, 7.00it/s]");
    /* Each eighth appears. */
    for (int k = 1; k < 8; k++) {
        ember_progress_view e = {.total = 80, .n = k, .elapsed = 1};
        char *t = ember_progress_text(&e);
        static const char *part[8] = {"", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589"};
        CHECK_MSG(t && strstr(t, part[k]) != NULL, "%d/80: %s", k, t ? t : "");
        free(t);
    }
}

static void test_formats(void)
{
    char b[32];
    ember_progress_format_time(0, b, sizeof b);
    CHECK(strcmp(b, "00:00") == 0);
    ember_progress_format_time(59.99, b, sizeof b);
    CHECK(strcmp(b, "00:59") == 0);
    ember_progress_format_time(61, b, sizeof b);
    CHECK(strcmp(b, "01:01") == 0);
    ember_progress_format_time(3599, b, sizeof b);
    CHECK(strcmp(b, "59:59") == 0);
    ember_progress_format_time(3600, b, sizeof b);
    CHECK(strcmp(b, "1:00:00") == 0);
    ember_progress_format_time(36000 + 61, b, sizeof b);
    CHECK(strcmp(b, "10:01:01") == 0);
    ember_progress_format_time(-1, b, sizeof b);
    CHECK(strcmp(b, "?") == 0);
    ember_progress_format_time(NAN, b, sizeof b);
    CHECK(strcmp(b, "?") == 0);
    ember_progress_format_rate(100, 8, NULL, b, sizeof b);
    CHECK(strcmp(b, "12.5it/s") == 0);
    ember_progress_format_rate(5, 2, "img", b, sizeof b);
    CHECK(strcmp(b, "2.50img/s") == 0);
    ember_progress_format_rate(50000, 2, NULL, b, sizeof b);
    CHECK(strcmp(b, "25000it/s") == 0);
    ember_progress_format_rate(1, 4, NULL, b, sizeof b);
    CHECK(strcmp(b, "4.00s/it") == 0);
    ember_progress_format_rate(0, 4, NULL, b, sizeof b);
    CHECK(strcmp(b, "?it/s") == 0);
    ember_progress_format_rate(3, 0, NULL, b, sizeof b);
    CHECK(strcmp(b, "?it/s") == 0);
}

static void test_html(void)
{
    ember_progress_view v = {.desc = "<b>&\"x\"", .total = 391, .n = 164, .elapsed = 12.25};
    char *h = ember_progress_html(&v);
    CHECK(h != NULL);
    if (h) {
        CHECK(strncmp(h, "<div", 4) == 0 && strstr(h, "</div>") != NULL);
        CHECK(strstr(h, "&lt;b&gt;&amp;&quot;x&quot;") != NULL); /* escaped description */
        CHECK(strstr(h, "<b>") == NULL);
        CHECK(strstr(h, "width:41.9%") != NULL);
        CHECK(strstr(h, "42% 164/391 [00:12&lt;00:16, 13.4it/s]") != NULL);
        CHECK(strstr(h, "#3b82f6") != NULL); /* running: blue */
        free(h);
    }
    v.status = EMBER_PROGRESS_DONE;
    v.n = 391;
    h = ember_progress_html(&v);
    CHECK(h && strstr(h, "#22a06b") && strstr(h, "width:100.0%"));
    free(h);
    v.status = EMBER_PROGRESS_FAILED;
    v.n = 200;
    h = ember_progress_html(&v);
    CHECK(h && strstr(h, "#d9534f"));
    free(h);
    ember_progress_view u = {.n = 5, .elapsed = 1};
    h = ember_progress_html(&u);
    CHECK(h && !strstr(h, "progressbar") && strstr(h, "5it [00:01, 5.00it/s]"));
    free(h);
}

static void test_throttle(void)
{
    ember_progress_throttle t;
    ember_progress_throttle_init(&t, 0);
    CHECK(t.interval == 0.1);
    /* A fast loop: 1000 updates a second for 2 seconds, then the end. */
    int shown = 0;
    double now = 100.0;
    CHECK(ember_progress_throttle_ready(&t, now, 0) == 1); /* the first is always shown */
    shown++;
    for (int i = 1; i < 2000; i++) {
        now = 100.0 + i * 0.001;
        shown += ember_progress_throttle_ready(&t, now, 0);
    }
    CHECK_MSG(shown >= 19 && shown <= 21, "%d updates in 2 s", shown);
    /* The final state is shown even right after another update... */
    CHECK(ember_progress_throttle_ready(&t, now + 0.0001, 1) == 1);
    /* ...exactly once, and nothing after it. */
    CHECK(ember_progress_throttle_ready(&t, now + 5, 1) == 0);
    CHECK(ember_progress_throttle_ready(&t, now + 5, 0) == 0);

    /* Slow updates all pass. */
    ember_progress_throttle_init(&t, 0.1);
    int all = 1;
    for (int i = 0; i < 10; i++)
        all &= ember_progress_throttle_ready(&t, i * 0.5, 0);
    CHECK(all);
    /* A clock stepping back does not flood. */
    ember_progress_throttle_init(&t, 0.1);
    CHECK(ember_progress_throttle_ready(&t, 10.0, 0) == 1);
    CHECK(ember_progress_throttle_ready(&t, 5.0, 0) == 0);
    CHECK(ember_progress_throttle_ready(&t, 5.05, 0) == 0);
    CHECK(ember_progress_throttle_ready(&t, 5.11, 0) == 1);
    /* A custom interval. */
    ember_progress_throttle_init(&t, 1.0);
    CHECK(ember_progress_throttle_ready(&t, 0, 0) == 1);
    CHECK(ember_progress_throttle_ready(&t, 0.5, 0) == 0);
    CHECK(ember_progress_throttle_ready(&t, 1.0, 0) == 1);
    /* A loop that ends at once still shows its final state. */
    ember_progress_throttle_init(&t, 0);
    CHECK(ember_progress_throttle_ready(&t, 0, 1) == 1);
}

int main(void)
{
    test_text();
    test_formats();
    test_html();
    test_throttle();
    TEST_END();
}
