/* wire_hmac: the pre-shared key table and the frame HMAC-SHA256, through OpenSSL EVP_MAC */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "wire.h"

int wire_keys_init(struct wire_keys *k)
{
	memset(k, 0, sizeof(*k));
	k->alg = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	return k->alg ? 0 : -EIO;
}

static void key_clear(struct wire_key *key)
{
	EVP_MAC_CTX_free(key->work);
	EVP_MAC_CTX_free(key->tmpl);
	memset(key, 0, sizeof(*key));
}

int wire_keys_add(struct wire_keys *k, uint32_t id, const uint8_t *key, size_t len)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	struct wire_key *slot;

	if (id == 0 || len < WIRE_KEY_MIN || len > WIRE_KEY_MAX)
		return -EINVAL;
	if (!k->alg)
		return -EIO;
	if (wire_keys_find(k, id))
		return -EEXIST;
	if (k->count >= WIRE_KEYS_MAX)
		return -ENOSPC;
	slot = &k->keys[k->count];
	slot->id = id;
	slot->tmpl = EVP_MAC_CTX_new(k->alg);
	if (!slot->tmpl || !EVP_MAC_init(slot->tmpl, key, len, params))
		goto fail;
	slot->work = EVP_MAC_CTX_dup(slot->tmpl);
	if (!slot->work)
		goto fail;
	k->count++;
	return 0;
fail:
	key_clear(slot);
	return -EIO;
}

void wire_keys_free(struct wire_keys *k)
{
	unsigned i;

	for (i = 0; i < k->count && i < WIRE_KEYS_MAX; i++)
		key_clear(&k->keys[i]);
	EVP_MAC_free(k->alg);
	memset(k, 0, sizeof(*k));
}

struct wire_key *wire_keys_find(struct wire_keys *k, uint32_t id)
{
	unsigned i;

	if (!k || id == 0)
		return NULL;
	for (i = 0; i < k->count && i < WIRE_KEYS_MAX; i++)
		if (k->keys[i].id == id)
			return &k->keys[i];
	return NULL;
}

uint32_t wire_keys_signing_id(const struct wire_keys *k)
{
	return k && k->count > 0 ? k->keys[0].id : 0;
}

/*
 * Re-initialising the work context with no key restarts it from the key
 * set at wire_keys_add(): cheaper than EVP_MAC_CTX_dup() of the template.
 */
int wire_mac(struct wire_key *key, const uint8_t nonce[WIRE_NONCE_LEN],
	     const uint8_t *frame, size_t len, uint8_t out[WIRE_HMAC_LEN])
{
	size_t outl = 0;

	if (len < WIRE_HEADER_LEN)
		return -EINVAL;
	if (!EVP_MAC_init(key->work, NULL, 0, NULL) ||
	    !EVP_MAC_update(key->work, nonce, WIRE_NONCE_LEN) ||
	    !EVP_MAC_update(key->work, frame, WIRE_HMAC_OFFSET) ||
	    !EVP_MAC_update(key->work, frame + WIRE_HEADER_LEN, len - WIRE_HEADER_LEN) ||
	    !EVP_MAC_final(key->work, out, &outl, WIRE_HMAC_LEN) || outl != WIRE_HMAC_LEN)
		return -EIO;
	return 0;
}

int wire_random(void *buf, size_t len)
{
	if (len > (size_t)INT32_MAX)
		return -EINVAL;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}
