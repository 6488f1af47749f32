// pcsclite's PC/SC API. pkg-config adds /usr/include/PCSC to the search path.
#include <winscard.h>
#include <reader.h>
