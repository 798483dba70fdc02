/* fake_cuda_lib.c — a shared library that is NOT a CUDA backend (it lacks
 * the entry point), for test_backend_load's "wrong library" case. */
int ember_fake_cuda_marker(void);
int ember_fake_cuda_marker(void) { return 42; }
