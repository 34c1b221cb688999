/* setting_write: writes an engine_conf back as the INI text setting_conf_load reads */
#ifndef ASCALE_SETTING_WRITE_H
#define ASCALE_SETTING_WRITE_H

#include <stddef.h>
#include <stdio.h>

#include "setting.h"

/*
 * Writes conf to f as [coordinator], [autoscale], [profile] and [rule]
 * sections, every key explicit, so that setting_conf_load() reads back the
 * same model.  Returns 0; -EINVAL when a value cannot be held by the INI
 * format (a line longer than the reader takes, a value with " ;", which
 * starts a comment, a control character or a bad name), with the reason and
 * the section in err; -EIO when f fails.  Nothing is logged.  On error part
 * of the text may have been written.
 */
int setting_write(FILE *f, const struct engine_conf *conf, char *err, size_t errlen);

/* The same into a malloc'ed string (*text, freed by the caller). */
int setting_write_string(const struct engine_conf *conf, char **text, char *err, size_t errlen);

#endif
