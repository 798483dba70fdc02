/* test_fit_cifar.c — a real-data smoke run: the q1 pipeline (recipe
 * augmentations, label smoothing, AdamW, MultiStepLR) on the CIFAR-10
 * subset of ../shared/data with a tiny ViT and a few steps per epoch, then
 * evaluation of the 1,000 test images (confusion rows = the README's class
 * counts) and a checkpoint round trip that evaluates the same.
 * argv[1]: shared data dir (exit 77 when the subset is missing), argv[2]:
 * scratch dir. */
#include <sys/stat.h>
#include <unistd.h>

#include "data/cifar10.h"
#include "train_test.h"

static int count_steps(void *ctx, const ember_fit_progress *p) {
    (void)p;
    (*(int *)ctx)++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <shared data dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    char archive[1024];
    snprintf(archive, sizeof archive, "%s/cifar10-subset/cifar-10-subset-binary.tar.gz", argv[1]);
    if (access(archive, R_OK) != 0) {
        printf("SKIP: %s is missing (set EMBER_SHARED_DATA to the shared data folder)\n", archive);
        return 77;
    }
    mkdir(argv[2], 0755);
    ember_dataset train, test;
    OK(ember_cifar10_read_archive(archive, EMBER_CIFAR10_TRAIN, &train, E));
    OK(ember_cifar10_read_archive(archive, EMBER_CIFAR10_TEST, &test, E));
    CHECK(train.n == 4000 && test.n == 1000, "subset sizes %lld %lld", (long long)train.n, (long long)test.n);

    ember_vit vit;
    t_make_vit(&vit, 10, 0);
    ember_augment aug = recipe_pipeline();
    ember_fit_opts o = ember_fit_default_opts();
    o.epochs = 3;
    o.batch_size = 64;
    o.max_steps_per_epoch = 6;
    o.lr = 1e-3;
    o.milestones[0] = 1;
    o.milestones[1] = 2;
    int steps = 0;
    ember_fit_callbacks cb = {.ctx = &steps, .on_step = count_steps};
    ember_fit_history h = {0};
    OK(ember_fit(&vit, &train, &test, &aug, &o, &cb, &h, E));
    CHECK(h.n == 3 && steps == 18 && vit.t == 18, "3 epochs of 6 steps (%d epochs, %d steps)", h.n, steps);
    for (int i = 0; i < h.n; i++) {
        const ember_epoch_record *r = &h.epochs[i];
        printf("  epoch %d lr %g train loss %.4f acc %.3f test loss %.4f acc %.3f (%.2fs, %.0f img/s)\n", r->epoch,
               r->lr, r->train_loss, r->train_acc, r->test_loss, r->test_acc, r->seconds, r->images_per_sec);
        CHECK(r->train_images == 384 && isfinite(r->train_loss) && r->train_loss > 1.0 && r->train_loss < 3.5,
              "epoch %d: 384 images, a plausible loss %.4f", i, r->train_loss);
        CHECK(isfinite(r->test_loss) && r->test_acc >= 0.0 && r->test_acc <= 1.0, "epoch %d test metrics", i);
    }
    CHECK(h.epochs[0].lr == 1e-3 && fabs(h.epochs[1].lr - 1e-4) < 1e-18 && fabs(h.epochs[2].lr - 1e-5) < 1e-19,
          "milestones 1, 2");

    ember_augment norm = {.n = 1};
    norm.steps[0] = aug.steps[5];
    ember_eval_result r;
    OK(ember_evaluate(&vit, &test, &norm, 64, o.label_smoothing, 1, NULL, NULL, &r, E)); /* fit's batch and criterion */
    const int64_t want[10] = {103, 89, 100, 103, 90, 86, 112, 102, 106, 109};
    int64_t sum = 0;
    for (int k = 0; k < 10; k++) {
        CHECK(r.class_count[k] == want[k], "test class %d: %lld images, README says %lld", k,
              (long long)r.class_count[k], (long long)want[k]);
        for (int j = 0; j < 10; j++) sum += r.confusion[k * 10 + j];
    }
    CHECK(sum == 1000 && r.loss == h.epochs[2].test_loss && r.accuracy == h.epochs[2].test_acc,
          "evaluate agrees with the last epoch's test metrics");

    /* Checkpoint round trip: a fresh model loading it evaluates the same. */
    char path[1100];
    snprintf(path, sizeof path, "%s/q1_smoke.safetensors", argv[2]);
    OK(ember_vit_save_safetensors(&vit, path, E));
    ember_vit back;
    t_make_vit(&back, 10, 12345);
    ember_st_file f;
    OK(ember_st_open(&f, path, E));
    OK(ember_vit_load_safetensors(&back, &f, NULL, E));
    ember_st_close(&f);
    ember_eval_result r2;
    OK(ember_evaluate(&back, &test, &norm, 64, o.label_smoothing, 1, NULL, NULL, &r2, E));
    CHECK(r2.loss == r.loss && !memcmp(r2.predictions, r.predictions, 1000 * sizeof(int32_t)),
          "the reloaded model predicts the same");
    unlink(path);
    ember_eval_result_free(&r);
    ember_eval_result_free(&r2);
    ember_fit_history_free(&h);
    ember_vit_destroy(&vit);
    ember_vit_destroy(&back);
    ember_dataset_free(&train);
    ember_dataset_free(&test);
    return t_finish("test_fit_cifar");
}
