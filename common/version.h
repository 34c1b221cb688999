/* version: the release these programs belong to */
#ifndef ASCALE_VERSION_H
#define ASCALE_VERSION_H

#define ASCALE_VERSION "0.1.0"

#endif
