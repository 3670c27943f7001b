// Token secrets (memory-api.md §9): made from the OS's CSPRNG, shown to
// their owner once, and kept only as a SHA-256 hash, compared in constant
// time. OpenSSL (libssl-dev) does the randomness and the hashing.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace casmem::net {

using TokenHash = std::array<uint8_t, 32>;  // SHA-256 of the secret's text

// "cm_" then 43 characters of unpadded base64url: 256 random bits from
// RAND_bytes (the OS's CSPRNG). Empty if the generator failed (the caller
// refuses to create a token then).
std::string NewTokenSecret();
TokenHash HashSecret(std::string_view secret);
// Lowercase hex (64 characters), the stored and displayed form.
std::string HashHex(const TokenHash& h);
std::optional<TokenHash> ParseHashHex(std::string_view hex);
// Constant time in the contents (CRYPTO_memcmp).
bool SameHash(const TokenHash& a, const TokenHash& b);

}  // namespace casmem::net
