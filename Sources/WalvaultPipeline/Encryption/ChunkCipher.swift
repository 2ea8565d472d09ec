import COpenSSL

/// AES-256-GCM over one chunk at a time, with the object's header as associated data. The
/// context is keyed once per object; each chunk only sets its nonce.
final class ChunkCipher {
    private let context: OpaquePointer
    private let aad: [UInt8]
    private let encrypting: Bool

    init(key: SecretBytes, aad: [UInt8], encrypting: Bool) throws {
        guard let context = EVP_CIPHER_CTX_new() else { throw PipelineError(stage: "openssl", "cannot create a cipher context") }
        self.context = context
        self.aad = aad
        self.encrypting = encrypting
        let ok = key.withUnsafeBytes { k in
            EVP_CipherInit_ex(context, EVP_aes_256_gcm(), nil, k.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, encrypting ? 1 : 0)
        }
        guard ok == 1 else { throw PipelineError(stage: "openssl", "cannot set up AES-256-GCM") }
    }

    /// The context holds the expanded key; EVP_CIPHER_CTX_free wipes it.
    deinit { EVP_CIPHER_CTX_free(context) }

    private func start(index: UInt64, final: Bool) -> Bool {
        let nonce = EncryptionHeader.nonce(chunk: index, final: final)
        var length: Int32 = 0
        return EVP_CipherInit_ex(context, nil, nil, nil, nonce, -1) == 1
            && EVP_CipherUpdate(context, nil, &length, aad, Int32(aad.count)) == 1
    }

    /// Writes ciphertext then the 16-byte tag to `output`, which must hold `plain.count + 16` bytes.
    func seal(_ plain: UnsafeRawBufferPointer, index: UInt64, final: Bool, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var length: Int32 = 0
        var total = 0
        guard start(index: index, final: final) else { throw PipelineError(stage: "openssl", "AES-256-GCM failed") }
        if plain.count > 0 {
            guard EVP_CipherUpdate(context, out, &length, plain.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(plain.count)) == 1 else {
                throw PipelineError(stage: "openssl", "AES-256-GCM failed")
            }
            total = Int(length)
        }
        guard EVP_CipherFinal_ex(context, out + total, &length) == 1 else { throw PipelineError(stage: "openssl", "AES-256-GCM failed") }
        total += Int(length)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(EncryptionHeader.tagSize), out + total) == 1 else {
            throw PipelineError(stage: "openssl", "AES-256-GCM failed")
        }
        return total + EncryptionHeader.tagSize
    }

    /// Decrypts `sealed` (ciphertext then tag) into `output`; nil when the tag does not verify,
    /// in which case `output` must not be used.
    func open(_ sealed: UnsafeRawBufferPointer, index: UInt64, final: Bool, into output: UnsafeMutableRawBufferPointer) -> Int? {
        let bodyLength = sealed.count - EncryptionHeader.tagSize
        guard bodyLength >= 0, start(index: index, final: final) else { return nil }
        let input = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var length: Int32 = 0
        var total = 0
        if bodyLength > 0 {
            guard EVP_CipherUpdate(context, out, &length, input, Int32(bodyLength)) == 1 else { return nil }
            total = Int(length)
        }
        guard
            EVP_CIPHER_CTX_ctrl(
                context, EVP_CTRL_GCM_SET_TAG, Int32(EncryptionHeader.tagSize),
                UnsafeMutableRawPointer(mutating: input + bodyLength)) == 1,
            EVP_CipherFinal_ex(context, out + total, &length) == 1
        else { return nil }
        return total + Int(length)
    }
}
