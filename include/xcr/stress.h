/* xcr public API: stress (included by xcr.h). */
#ifndef XCR_STRESS_H
#define XCR_STRESS_H

#endif /* XCR_STRESS_H */
