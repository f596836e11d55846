// Linked only with the static libarchive (see ../CMakeLists.txt). libarchive's pax/ustar writers report an
// unsupported file type through this internal helper, which lives in archive_write_set_format.o — the
// object that also holds the by-code format table and so drags every writer (xar -> libxml2/ICU, 7zip ->
// lzma/bzip2, zip -> nettle) into the link. Defining it here keeps that object out.
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>

// archive_platform.h maps ARCHIVE_ERRNO_FILE_FORMAT to EILSEQ on Linux; that header is not installed.
#define EFTYPE_BERTH EILSEQ

extern "C" void __archive_write_entry_filetype_unsupported(struct archive* a, struct archive_entry* entry,
                                                           const char* format) {
  const char* name = archive_entry_pathname(entry);
  archive_set_error(a, EFTYPE_BERTH, "%s: file type not supported by the %s format",
                    name ? name : "(entry)", format);
}
