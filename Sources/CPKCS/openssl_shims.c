// OpenSSL macros and stack accessors as plain functions. The owning Swift classes in SignKit/OpenSSL call these.
#include "CPKCS.h"
#include <stdio.h>
#include <string.h>

long cpkcs_BIO_get_mem_data(BIO *bio, const char **data) {
    return BIO_get_mem_data(bio, (char **)data);
}

void cpkcs_OPENSSL_free(void *pointer) {
    OPENSSL_free(pointer);
}

// Appends `oid` and a newline to buffer[*used...]; truncates silently at the end of the buffer.
static void append_line(char *buffer, size_t buffer_len, size_t *used, const char *text) {
    if (*used >= buffer_len) return;
    int n = snprintf(buffer + *used, buffer_len - *used, "%s\n", text);
    if (n > 0) *used += (size_t)n;
}

int cpkcs_X509_policy_oids(X509 *certificate, char *buffer, size_t buffer_len) {
    if (buffer_len > 0) buffer[0] = 0;
    int critical = 0;
    // X509_get_ext_d2i returns a new stack we own; freed below.
    CERTIFICATEPOLICIES *policies = X509_get_ext_d2i(certificate, NID_certificate_policies, &critical, NULL);
    if (policies == NULL) {
        return critical == -1 ? 0 : -1;  // -1: absent; -2: occurs more than once; otherwise it did not decode
    }
    size_t used = 0;
    int count = sk_POLICYINFO_num(policies);
    for (int i = 0; i < count; i++) {
        POLICYINFO *info = sk_POLICYINFO_value(policies, i);  // get0: owned by the stack
        char oid[128];
        OBJ_obj2txt(oid, sizeof(oid), info->policyid, 1);
        append_line(buffer, buffer_len, &used, oid);
    }
    CERTIFICATEPOLICIES_free(policies);
    return count;
}

int cpkcs_X509_eku_oids(X509 *certificate, char *buffer, size_t buffer_len) {
    if (buffer_len > 0) buffer[0] = 0;
    int critical = 0;
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(certificate, NID_ext_key_usage, &critical, NULL);
    if (eku == NULL) {
        return critical == -1 ? 0 : -1;
    }
    size_t used = 0;
    int count = sk_ASN1_OBJECT_num(eku);
    for (int i = 0; i < count; i++) {
        char oid[128];
        OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), 1);
        append_line(buffer, buffer_len, &used, oid);
    }
    EXTENDED_KEY_USAGE_free(eku);
    return count;
}

int cpkcs_ERR_drain(char *buffer, size_t buffer_len) {
    if (buffer_len > 0) buffer[0] = 0;
    size_t used = 0;
    int count = 0;
    unsigned long code;
    const char *file = NULL, *func = NULL, *data = NULL;
    int line = 0, flags = 0;
    while ((code = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        char text[256];
        ERR_error_string_n(code, text, sizeof(text));
        char entry[512];
        if (data != NULL && (flags & ERR_TXT_STRING)) {
            snprintf(entry, sizeof(entry), "%s (%s)", text, data);
        } else {
            snprintf(entry, sizeof(entry), "%s", text);
        }
        append_line(buffer, buffer_len, &used, entry);
        count++;
    }
    return count;
}

// The signed-attributes template: SET OF Attribute with DER set ordering, as OpenSSL's private
// CMS_Attributes_Sign (crypto/cms/cms_asn1.c) declares it.
#include <openssl/asn1t.h>

typedef STACK_OF(X509_ATTRIBUTE) CPKCS_SIGNED_ATTRIBUTES;

ASN1_ITEM_TEMPLATE(CPKCS_SIGNED_ATTRIBUTES) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_ORDER, 0, CPKCS_SIGNED_ATTRIBUTES, X509_ATTRIBUTE)
ASN1_ITEM_TEMPLATE_END(CPKCS_SIGNED_ATTRIBUTES)

int cpkcs_CMS_signed_attributes_der(CMS_SignerInfo *signer, unsigned char **out) {
    int count = CMS_signed_get_attr_count(signer);
    if (count <= 0) return -1;
    STACK_OF(X509_ATTRIBUTE) *attributes = sk_X509_ATTRIBUTE_new_null();
    if (attributes == NULL) return -1;
    for (int i = 0; i < count; i++) {
        // get: borrowed from the SignerInfo; the stack only points at them and is freed without its elements.
        if (sk_X509_ATTRIBUTE_push(attributes, CMS_signed_get_attr(signer, i)) <= 0) {
            sk_X509_ATTRIBUTE_free(attributes);
            return -1;
        }
    }
    *out = NULL;
    int length = ASN1_item_i2d((ASN1_VALUE *)attributes, out, ASN1_ITEM_rptr(CPKCS_SIGNED_ATTRIBUTES));
    sk_X509_ATTRIBUTE_free(attributes);
    return length;
}

int cpkcs_CMS_signer_count(CMS_ContentInfo *cms) {
    STACK_OF(CMS_SignerInfo) *signers = CMS_get0_SignerInfos(cms);  // get0: owned by the CMS
    return signers == NULL ? -1 : sk_CMS_SignerInfo_num(signers);
}

CMS_SignerInfo *cpkcs_CMS_signer(CMS_ContentInfo *cms, int index) {
    STACK_OF(CMS_SignerInfo) *signers = CMS_get0_SignerInfos(cms);  // get0: owned by the CMS
    if (signers == NULL || index < 0 || index >= sk_CMS_SignerInfo_num(signers)) return NULL;
    return sk_CMS_SignerInfo_value(signers, index);
}

// An attribute's values as the SET OF they are: the template used for the stored form of one Attribute's values.
typedef STACK_OF(ASN1_TYPE) CPKCS_ATTRIBUTE_VALUES;

ASN1_ITEM_TEMPLATE(CPKCS_ATTRIBUTE_VALUES) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_OF, 0, CPKCS_ATTRIBUTE_VALUES, ASN1_ANY)
ASN1_ITEM_TEMPLATE_END(CPKCS_ATTRIBUTE_VALUES)

int cpkcs_CMS_attribute(CMS_SignerInfo *signer, int is_signed, int index, char *oid, size_t oid_len,
                        unsigned char **out) {
    X509_ATTRIBUTE *attribute = is_signed ? CMS_signed_get_attr(signer, index)
                                          : CMS_unsigned_get_attr(signer, index);  // get0: owned by the SignerInfo
    if (attribute == NULL) return -1;
    OBJ_obj2txt(oid, (int)oid_len, X509_ATTRIBUTE_get0_object(attribute), 1);
    STACK_OF(ASN1_TYPE) *values = sk_ASN1_TYPE_new_null();
    if (values == NULL) return -1;
    int count = X509_ATTRIBUTE_count(attribute);
    for (int i = 0; i < count; i++) {
        // get0: owned by the attribute; the stack is freed without its elements.
        if (sk_ASN1_TYPE_push(values, X509_ATTRIBUTE_get0_type(attribute, i)) <= 0) {
            sk_ASN1_TYPE_free(values);
            return -1;
        }
    }
    *out = NULL;
    int length = ASN1_item_i2d((ASN1_VALUE *)values, out, ASN1_ITEM_rptr(CPKCS_ATTRIBUTE_VALUES));
    sk_ASN1_TYPE_free(values);
    return length;
}

int cpkcs_sk_X509_num(STACK_OF(X509) *stack) { return sk_X509_num(stack); }
X509 *cpkcs_sk_X509_value(STACK_OF(X509) *stack, int index) { return sk_X509_value(stack, index); }
void cpkcs_sk_X509_pop_free(STACK_OF(X509) *stack) { sk_X509_pop_free(stack, X509_free); }

// Appends an IA5String URI (not NUL-terminated in the certificate) as one line; long ones are cut at 1 KiB.
static void append_uri(char *buffer, size_t buffer_len, size_t *used, const ASN1_IA5STRING *uri) {
    char text[1024];
    int n = uri->length < (int)sizeof(text) - 1 ? uri->length : (int)sizeof(text) - 1;
    memcpy(text, uri->data, (size_t)n);
    text[n] = 0;
    append_line(buffer, buffer_len, used, text);
}

int cpkcs_X509_aia_urls(X509 *certificate, int ocsp, char *buffer, size_t buffer_len) {
    if (buffer_len > 0) buffer[0] = 0;
    // A new stack we own; freed below.
    AUTHORITY_INFO_ACCESS *access = X509_get_ext_d2i(certificate, NID_info_access, NULL, NULL);
    if (access == NULL) return 0;
    size_t used = 0;
    int found = 0;
    int wanted = ocsp ? NID_ad_OCSP : NID_ad_ca_issuers;
    for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(access); i++) {
        ACCESS_DESCRIPTION *entry = sk_ACCESS_DESCRIPTION_value(access, i);  // get0: owned by the stack
        if (OBJ_obj2nid(entry->method) != wanted || entry->location->type != GEN_URI) continue;
        append_uri(buffer, buffer_len, &used, entry->location->d.uniformResourceIdentifier);
        found++;
    }
    AUTHORITY_INFO_ACCESS_free(access);
    return found;
}

int cpkcs_X509_crl_urls(X509 *certificate, char *buffer, size_t buffer_len) {
    if (buffer_len > 0) buffer[0] = 0;
    CRL_DIST_POINTS *points = X509_get_ext_d2i(certificate, NID_crl_distribution_points, NULL, NULL);  // owned, freed below
    if (points == NULL) return 0;
    size_t used = 0;
    int found = 0;
    for (int i = 0; i < sk_DIST_POINT_num(points); i++) {
        DIST_POINT *point = sk_DIST_POINT_value(points, i);  // get0
        if (point->distpoint == NULL || point->distpoint->type != 0) continue;  // 0: fullName
        GENERAL_NAMES *names = point->distpoint->name.fullname;
        for (int j = 0; j < sk_GENERAL_NAME_num(names); j++) {
            GENERAL_NAME *name = sk_GENERAL_NAME_value(names, j);  // get0
            if (name->type != GEN_URI) continue;
            append_uri(buffer, buffer_len, &used, name->d.uniformResourceIdentifier);
            found++;
        }
    }
    CRL_DIST_POINTS_free(points);
    return found;
}

STACK_OF(X509) *cpkcs_sk_X509_new(void) { return sk_X509_new_null(); }
int cpkcs_sk_X509_push(STACK_OF(X509) *stack, X509 *certificate) { return sk_X509_push(stack, certificate); }
void cpkcs_sk_X509_free(STACK_OF(X509) *stack) { sk_X509_free(stack); }

int cpkcs_X509_REVOKED_reason(X509_REVOKED *entry) {
    ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, NULL, NULL);  // owned, freed below
    if (reason == NULL) return -1;
    long value = ASN1_ENUMERATED_get(reason);
    ASN1_ENUMERATED_free(reason);
    return (int)value;
}

STACK_OF(X509_CRL) *cpkcs_sk_X509_CRL_new(void) { return sk_X509_CRL_new_null(); }
int cpkcs_sk_X509_CRL_push(STACK_OF(X509_CRL) *stack, X509_CRL *crl) { return sk_X509_CRL_push(stack, crl); }
void cpkcs_sk_X509_CRL_free(STACK_OF(X509_CRL) *stack) { sk_X509_CRL_free(stack); }

int cpkcs_X509_policy_tree_oids(X509_POLICY_TREE *tree, char *buffer, size_t buffer_len) {
    if (buffer_len > 0) buffer[0] = 0;
    if (tree == NULL) return 0;
    STACK_OF(X509_POLICY_NODE) *nodes = X509_policy_tree_get0_user_policies(tree);  // get0: owned by the tree
    size_t used = 0;
    int count = sk_X509_POLICY_NODE_num(nodes);
    for (int i = 0; i < count; i++) {
        const ASN1_OBJECT *policy = X509_policy_node_get0_policy(sk_X509_POLICY_NODE_value(nodes, i));  // get0s
        char oid[128];
        OBJ_obj2txt(oid, sizeof(oid), policy, 1);
        append_line(buffer, buffer_len, &used, oid);
    }
    return count < 0 ? 0 : count;
}
