/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * decimal.h - unsigned integers as decimal text without printf: the event
 * encoder, the histogram text and the dashboard's series write several per
 * request, where snprintf's format parsing costs more than the digits.
 */
#ifndef TG_LIB_DECIMAL_H
#define TG_LIB_DECIMAL_H

#include <stdint.h>

#define DECIMAL_U64_MAX 20 /* digits of UINT64_MAX */

/*
 * decimal_u64() - @v in decimal at @p, without leading zeros ("0" for 0) and
 * without a NUL; @p has room for DECIMAL_U64_MAX bytes. Returns the end of
 * what it wrote.
 */
char *decimal_u64(char *p, uint64_t v);

#endif
