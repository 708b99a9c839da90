/* xcr public API: portfolio (included by xcr.h). */
#ifndef XCR_PORTFOLIO_H
#define XCR_PORTFOLIO_H

#endif /* XCR_PORTFOLIO_H */
