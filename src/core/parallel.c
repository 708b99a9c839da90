/* Fork-join over a fixed array of jobs: job 0 runs on the calling thread,
 * jobs 1..n-1 on their own threads; a job whose thread cannot be started
 * runs on the caller after the others, so every job always runs exactly
 * once.  Jobs write only their own results, which keeps the outcome
 * independent of the number of threads. */
#include "core.h"

#include <pthread.h>

void xcr__run_jobs(void *(*fn)(void *), void *jobs, size_t job_size,
                   int n)
{
    pthread_t tid[XCR__MAX_THREADS];
    bool started[XCR__MAX_THREADS] = {false};
    unsigned char *j = jobs;
    if (n > XCR__MAX_THREADS)
        n = XCR__MAX_THREADS;
    for (int t = 1; t < n; t++)
        started[t] =
            pthread_create(&tid[t], NULL, fn, j + (size_t)t * job_size) == 0;
    if (n > 0)
        fn(j);
    for (int t = 1; t < n; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            fn(j + (size_t)t * job_size); /* no thread: run it here */
    }
}
