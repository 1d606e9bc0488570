/*
 * files.h: the file store on disk and the sticker catalogue's set-up
 * (server.md "Storage: files", "binkd stickers import").
 *
 * Blobs live under <data>/files/ab/cd/<sha256> (ab, cd: the first two
 * pairs of hex digits), one per distinct content. A blob is written to a
 * temporary name in <data>/tmp, fsync'ed, then published atomically under
 * its final name (link(2), which like rename(2) never shows a partial file
 * and leaves the temporary name to be removed by whoever created it), and
 * the directory is fsync'ed. Metadata lives in the database (store.h).
 *
 * Content types are sniffed from the bytes with libmagic (MAGIC_MIME_TYPE),
 * never taken from the client; libmagic handles are not thread-safe, so one
 * handle is shared under a mutex.
 */
#ifndef BINK_SVC_FILES_H
#define BINK_SVC_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/media.h"
#include "core/result.h"
#include "store/store.h"

/* Path of the blob of `sha256` (64 hex digits) under data_dir into out
 * (cap bytes). Returns false when it does not fit. */
bool files_blob_path(const char *data_dir, const char *sha256, char *out,
                     size_t cap);

/* Publishes the fsync'ed file tmp_path as the blob of sha256 (creating
 * files/ab/cd as needed). An existing blob is kept (same bytes). tmp_path
 * itself is left in place. BINK_OK or BINK_EUNAVAIL (logged). */
bink_rc files_blob_publish(const char *data_dir, const char *tmp_path,
                           const char *sha256);

/* Writes bytes[0..n) as a blob (temporary file, fsync, publish); sets
 * sha256 (hex). BINK_OK or BINK_EUNAVAIL (logged). */
bink_rc files_blob_put(const char *data_dir, const void *bytes, size_t n,
                       char sha256[MEDIA_SHA256_HEX]);

/* The canonical MIME type (media_mime_canon) libmagic finds in the file at
 * path, into mime (MEDIA_MIME_MAX bytes). BINK_OK, or BINK_EUNAVAIL when
 * libmagic cannot be loaded or read the file (logged). */
bink_rc files_sniff_path(const char *path, char mime[MEDIA_MIME_MAX]);
/* The same for bytes in memory. */
bink_rc files_sniff_bytes(const void *bytes, size_t n,
                          char mime[MEDIA_MIME_MAX]);

/* Releases the libmagic handle (at exit; optional). */
void files_shutdown(void);

/* Creates <data>/files and <data>/tmp and removes temporary files a
 * previous run left in <data>/tmp (a crash mid-upload) once they are two
 * hours old: younger ones may be another node's uploads in progress. 0 or
 * -1 (logged). */
int files_prepare_dirs(const char *data_dir);

/* An image of the default sticker set (files_stickers.c, generated). */
typedef struct files_default_sticker {
  const char *name;          /* "smile.png" */
  const char *emoji;         /* UTF-8 */
  const unsigned char *png;
  size_t size;
} files_default_sticker;
extern const files_default_sticker files_default_stickers[]; /* NULL-ended */

#define FILES_DEFAULT_SET "bink"

/* Installs the default set FILES_DEFAULT_SET: entries already in the
 * catalogue are left alone, so this runs at every start and only the first
 * one adds anything. BINK_OK or an error (logged). */
bink_rc files_install_default_stickers(store *st, const char *data_dir);

/* `binkd stickers import DIR [--set NAME]`: every PNG, WebP or GIF file
 * (by content) in dir becomes a sticker of set `set` (default: dir's last
 * component); its emoji comes from dir/manifest.json ({"file name":
 * "emoji"}) or else from the file name (media_emoji_from_name). An entry
 * of the same set and name keeps its sticker id and image: the same bytes
 * again only update its emoji; different bytes are refused (reported on
 * stderr, the other files are still imported), since messages name the
 * sticker by id. Progress goes to `out`, problems to stderr. Returns the
 * number imported, or -1 on an error that stops the import (a bad set
 * name, an unreadable dir, storage) or when an image was refused. */
int files_import_stickers(store *st, const char *data_dir, const char *dir,
                          const char *set, FILE *out);

#endif
