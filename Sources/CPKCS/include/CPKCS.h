// CPKCS: the one C target of SignService.
//
// It holds what Swift cannot express or import by itself:
//  * the PKCS#11 header (p11-kit's, see pkcs11.h for its notice) and a dlopen loader for modules;
//  * functions standing in for OpenSSL macros (sk_*, BIO_get_mem_data, OPENSSL_free, ...);
//  * PC/SC constants that pcsclite defines as casts, which the Swift importer drops.
// Every shim says why it exists. Nothing here holds state.
#ifndef CPKCS_H
#define CPKCS_H

#include <stddef.h>
#include <stdint.h>
#include "pkcs11.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/ess.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/ts.h>
#include <openssl/rand.h>
#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include <winscard.h>
#include <reader.h>

// MARK: - PKCS#11 module loading

/// A loaded PKCS#11 module: the dlopen handle and the module's function list.
typedef struct cpkcs_module {
    void *handle;
    CK_FUNCTION_LIST_PTR functions;
} cpkcs_module;

/// Opens the shared object at `path` and asks it for its function list.
/// Returns 0 on success; otherwise writes a reason (dlerror text or the missing symbol) into `error`.
int cpkcs_module_open(const char *path, cpkcs_module *out, char *error, size_t error_len);

/// Closes a module opened by cpkcs_module_open. The caller must have called C_Finalize first.
void cpkcs_module_close(cpkcs_module *module);

/// C_Initialize with CKF_OS_LOCKING_OK and no mutex callbacks: the module uses the OS's own locks.
CK_RV cpkcs_initialize(CK_FUNCTION_LIST_PTR functions);

// The flag macros are shifts, which the Swift importer does not evaluate; these constants stand in.
extern const CK_FLAGS cpkcs_CKF_TOKEN_PRESENT;
extern const CK_FLAGS cpkcs_CKF_REMOVABLE_DEVICE;
extern const CK_FLAGS cpkcs_CKF_HW_SLOT;
extern const CK_FLAGS cpkcs_CKF_LOGIN_REQUIRED;
extern const CK_FLAGS cpkcs_CKF_USER_PIN_INITIALIZED;
extern const CK_FLAGS cpkcs_CKF_PROTECTED_AUTHENTICATION_PATH;
extern const CK_FLAGS cpkcs_CKF_TOKEN_INITIALIZED;
extern const CK_FLAGS cpkcs_CKF_USER_PIN_COUNT_LOW;
extern const CK_FLAGS cpkcs_CKF_USER_PIN_FINAL_TRY;
extern const CK_FLAGS cpkcs_CKF_USER_PIN_LOCKED;
extern const CK_FLAGS cpkcs_CKF_USER_PIN_TO_BE_CHANGED;
extern const CK_FLAGS cpkcs_CKF_RW_SESSION;
extern const CK_FLAGS cpkcs_CKF_SERIAL_SESSION;
extern const CK_ULONG cpkcs_CK_UNAVAILABLE_INFORMATION;

// MARK: - OpenSSL macros as functions

/// BIO_get_mem_data is a macro over BIO_ctrl.
long cpkcs_BIO_get_mem_data(BIO *bio, const char **data);
/// OPENSSL_free is a macro that adds the caller's file and line.
void cpkcs_OPENSSL_free(void *pointer);
/// The certificate policies extension decoded as a list of OID strings (dotted form), '\n'-separated.
/// Returns the number of policies, 0 when the extension is absent, -1 when it does not decode.
int cpkcs_X509_policy_oids(X509 *certificate, char *buffer, size_t buffer_len);
/// The extended key usage OIDs (dotted form), '\n'-separated; same return convention.
int cpkcs_X509_eku_oids(X509 *certificate, char *buffer, size_t buffer_len);
/// Pops every entry of this thread's OpenSSL error queue into `buffer` as '\n'-separated lines.
/// Returns how many entries there were.
int cpkcs_ERR_drain(char *buffer, size_t buffer_len);

// MARK: - CMS signed attributes

/// The DER of a SignerInfo's signed attributes as they are signed: a universal SET OF Attribute in DER order
/// (RFC 5652 5.4), not the [0] IMPLICIT form stored in the SignerInfo. OpenSSL keeps the item template for this
/// (CMS_Attributes_Sign) private, so the same template is declared here. `*out` is allocated with OPENSSL_malloc;
/// free it with cpkcs_OPENSSL_free. Returns the length, or -1.
int cpkcs_CMS_signed_attributes_der(CMS_SignerInfo *signer, unsigned char **out);
/// STACK_OF(X509) accessors (macros in OpenSSL).
int cpkcs_sk_X509_num(STACK_OF(X509) *stack);
X509 *cpkcs_sk_X509_value(STACK_OF(X509) *stack, int index);
/// Frees the stack and drops one reference on each certificate (for get1 stacks).
void cpkcs_sk_X509_pop_free(STACK_OF(X509) *stack);

// MARK: - Verification: URLs in certificates, certificate stacks

/// The URIs of the authorityInfoAccess entries with access method OCSP (`ocsp` 1) or caIssuers (`ocsp` 0),
/// '\n'-separated. Returns how many there are, 0 when the extension is absent.
int cpkcs_X509_aia_urls(X509 *certificate, int ocsp, char *buffer, size_t buffer_len);
/// The full-name URIs of the cRLDistributionPoints extension, '\n'-separated; same return convention.
int cpkcs_X509_crl_urls(X509 *certificate, char *buffer, size_t buffer_len);
/// A new empty stack that does not own its certificates: free it with cpkcs_sk_X509_free, not pop_free.
STACK_OF(X509) *cpkcs_sk_X509_new(void);
/// Pushes without taking a reference (the caller keeps the certificate alive while the stack is used).
int cpkcs_sk_X509_push(STACK_OF(X509) *stack, X509 *certificate);
void cpkcs_sk_X509_free(STACK_OF(X509) *stack);
/// The reasonCode extension of a revoked entry (RFC 5280 5.3.1); -1 when absent.
int cpkcs_X509_REVOKED_reason(X509_REVOKED *entry);
/// STACK_OF(X509_CRL) macros: a stack that does not own its CRLs (X509_STORE_CTX_set0_crls borrows it; the caller
/// keeps each CRL alive while the stack is used). Free it with cpkcs_sk_X509_CRL_free.
STACK_OF(X509_CRL) *cpkcs_sk_X509_CRL_new(void);
/// Pushes without taking a reference.
int cpkcs_sk_X509_CRL_push(STACK_OF(X509_CRL) *stack, X509_CRL *crl);
void cpkcs_sk_X509_CRL_free(STACK_OF(X509_CRL) *stack);
/// The policies that held on a validated path (RFC 5280 6.1.6: the user-initial-policy-set intersected with the
/// valid_policy_tree; OpenSSL's X509_policy_tree_get0_user_policies, a STACK_OF(X509_POLICY_NODE) read with macros)
/// as dotted OIDs, '\n'-separated. Returns how many; 0 when the tree is NULL (no policy held).
int cpkcs_X509_policy_tree_oids(X509_POLICY_TREE *tree, char *buffer, size_t buffer_len);
/// Number of SignerInfos in a SignedData (sk_CMS_SignerInfo_num is a macro); -1 when not SignedData.
int cpkcs_CMS_signer_count(CMS_ContentInfo *cms);
/// The index-th SignerInfo (get0: owned by the CMS), or NULL.
CMS_SignerInfo *cpkcs_CMS_signer(CMS_ContentInfo *cms, int index);
/// The DER of a signed (signed != 0) or unsigned attribute's values: `*oid` gets its dotted OID (buffer of
/// oid_len), `*out` a SET OF value DER allocated with OPENSSL_malloc. Returns the DER length, or -1.
int cpkcs_CMS_attribute(CMS_SignerInfo *signer, int is_signed, int index, char *oid, size_t oid_len,
                        unsigned char **out);

// MARK: - PC/SC constants

// pcsclite defines these as ((LONG)0x...) or ((DWORD)-1); the importer skips casts.
extern const LONG cpcsc_SCARD_S_SUCCESS;
extern const LONG cpcsc_SCARD_E_TIMEOUT;
extern const LONG cpcsc_SCARD_E_NO_READERS_AVAILABLE;
extern const LONG cpcsc_SCARD_E_NO_SERVICE;
extern const LONG cpcsc_SCARD_E_SERVICE_STOPPED;
extern const LONG cpcsc_SCARD_E_CANCELLED;
extern const LONG cpcsc_SCARD_E_UNKNOWN_READER;
extern const LONG cpcsc_SCARD_E_INVALID_HANDLE;
extern const LONG cpcsc_SCARD_E_NO_SMARTCARD;
extern const LONG cpcsc_SCARD_W_REMOVED_CARD;
extern const LONG cpcsc_SCARD_E_READER_UNAVAILABLE;
extern const LONG cpcsc_SCARD_E_INSUFFICIENT_BUFFER;
extern const DWORD cpcsc_SCARD_AUTOALLOCATE;
extern const DWORD cpcsc_SCARD_STATE_UNAWARE;
extern const DWORD cpcsc_SCARD_STATE_IGNORE;
extern const DWORD cpcsc_SCARD_STATE_CHANGED;
extern const DWORD cpcsc_SCARD_STATE_UNKNOWN;
extern const DWORD cpcsc_SCARD_STATE_UNAVAILABLE;
extern const DWORD cpcsc_SCARD_STATE_EMPTY;
extern const DWORD cpcsc_SCARD_STATE_PRESENT;
extern const DWORD cpcsc_SCARD_STATE_EXCLUSIVE;
extern const DWORD cpcsc_SCARD_STATE_INUSE;
extern const DWORD cpcsc_SCARD_STATE_MUTE;
extern const DWORD cpcsc_SCARD_SCOPE_SYSTEM;
/// The name of the pseudo-reader whose state changes when a reader is added or removed.
extern const char *const cpcsc_PNP_NOTIFICATION;

/// prctl(PR_SET_DUMPABLE, 0): no core dump, no ptrace by the same user's processes, /proc/PID/mem closed to them.
int cprocess_set_not_dumpable(void);

#endif
