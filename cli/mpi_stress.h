/* MPI scenario sharding of `xcr stress` (cli/mpi_stress.c,
 * docs/performance.md).  Without XCR_HAVE_MPI these are no-ops and a run
 * is the ordinary one-process run. */
#ifndef XCR_CLI_MPI_STRESS_H
#define XCR_CLI_MPI_STRESS_H

#include "xcr.h"

#include <stdbool.h>

/* Join the MPI job when the process was started by a launcher (mpirun,
 * srun: its environment says so); a plain run never touches MPI.  Ranks
 * other than 0 send stdout to /dev/null: rank 0 prints the report.
 * Returns false only when MPI_Init fails. */
bool cli_mpi_begin(void);
/* More than one rank: scenarios are sharded. */
bool cli_mpi_sharding(void);
/* xcr_stress_run over the ranks: each evaluates its range of scenarios and
 * rank 0 assembles the whole result, bit-identical to a one-process run;
 * other ranks get *out = NULL.  Collective: every rank must call it. */
xcr_status cli_mpi_stress_run(const xcr_market *m, const xcr_scenarios *s,
                              const xcr_stress_opts *o,
                              xcr_stress_result **out, xcr_error *err);

#endif
