/// Keys for tests only, made once with openssl (`genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`,
/// `genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, `pkey -pubout`): the host application's
/// signing keys as the JWT tests play it, and another RSA key for a token signed by someone else.
public enum TestKeys {
    /// RS256: the host application's private key.
    public static let rsaPrivate = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCtttRIURTG7q6E
        xt5Xto+vRKIhRGgVkp6vf+o/vHDRPjVmk18E7ZM1b8iq2bEFOq7Nj4C5JrWpw9ax
        BnLeNqGXvKymlwIdld/XdUobFQCA45X+OJIZF1VmCkljRtbyrc2PV4R3DTndakgX
        v2n5KRAmr7Jnz9aPBEX9vrNptGOHXN5NMmVJyB8m7RyLwCeTjJtQyDAIcz9V/up7
        3XEb6ep3snEzct56BFgZz7nePFrBiOlJlQBHeAuXGGqrzV3XbmfZqNbZBm+FKQ06
        Uc8PZ67Vx6ta/dt2m50jtGSnrMaULdpkEvS0gZn+/LHXhID6xJGBFSbSu7t5QVj6
        igCkBk27AgMBAAECggEAKqpzlDl56WxZJ9pyZMe9nbY1Pgd/qwDCgedggPwHF5V4
        ZzO+DEdPtzm35yKlpFun8GwVGSSlTMeBdSRY1TRE1zBrlVUUm3CitFgl9eXgJEgB
        oJmDZK9C9deD8+LDy4IdsV209sqkUjoW7+I/JIfN5DqWDoJRN/o8OJj8lvNL2MRy
        anj449fW3NElfBzVCqxlDt7cO8owt//u3kbiPiTkysnBCJDXvAvIQXSvfkIMYBUQ
        1UfXevtGuHHsrRllzEf/l5Kga3+28GYLL0q+qLoev9S5+WfAHoBt+lgHcnONx4W3
        LKNrtWCa6Y7FrAUtqFtL7F2Yoq/AMyDM0rAeZbTSoQKBgQDVNtcgCwTw3ffapOx7
        xJJABl8d523fcFucuNSC0df0LiWiE35fbDA6MwjesT5C/vSPK6NO8wR+k1/7GqxH
        PGFR4PF6CPlMo/38ORR5WQvnKGiamrLYf/Wd1CCbo55TYG/gKhyhNeiSMJ3exR/V
        /d4FKub8kBOH09ihCFwSvzd5IQKBgQDQks7GquP+31jL13FLQ0Dxc+fNAenwnwFm
        /4/SKZuWydLafbxFRrmjwR3qd+p/MrhYI6y8hW6Nwi1sncefHZAvZqpmnZXleuW3
        Ii2VJW2b3L310MQc4Ao9tMZbBgdOLyVZz++oJa5YZcAdMjQqZRjM9dVG9G07Mc1k
        YtxZEvtfWwKBgFwrn+XXPaSOoDXhs+VxPbP1zSqVQDcmUEQ41o1S/6MsS9J70NaZ
        Y2PVahEy1/KIWtqFh8x6W8gIF6bqie0lmgCWWG1j8bmC7yoY1tP6fZ3JJycmlwfm
        kRxQdmQx4CC1AMgMDGJYdpiz8Zs65h9Q5qifOkmWUwsVtoEupvbnuKhhAoGAenn6
        2kZ3Y68boXd9m8h+VkrNj2DUUuvMEwN3HN458y3Il2zGJZgGYtaADrMkDFVoUrmA
        MaPY631e1y0/j3v4sx0CaweWgg7M3eFACxjTaHcTRUm2H46f9OQ2pjTADXU55ado
        /8BAxL/bNEnKwCplidXBy8y0Z9Iy3gP/iH7RBYkCgYEAtSlrKrKtyZR7OnOoRBcT
        q8wEhMD5tBcT4wNgA5iaCfJsbbsRvKgVO72ckFULZf7FE5YUE9GUJ6qJKIvhEbVV
        JHfS4BaQ57tlKcMC3c5+2xG/7ZLFqo1J0ZzMgABKQhKYYY/eppJ3/m1m/3boXN9n
        zDHbaBfsXebmKATMUXNXsh8=
        -----END PRIVATE KEY-----
        """
    /// RS256: what `jwt_public_key_file` holds.
    public static let rsaPublic = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArbbUSFEUxu6uhMbeV7aP
        r0SiIURoFZKer3/qP7xw0T41ZpNfBO2TNW/IqtmxBTquzY+AuSa1qcPWsQZy3jah
        l7ysppcCHZXf13VKGxUAgOOV/jiSGRdVZgpJY0bW8q3Nj1eEdw053WpIF79p+SkQ
        Jq+yZ8/WjwRF/b6zabRjh1zeTTJlScgfJu0ci8Ank4ybUMgwCHM/Vf7qe91xG+nq
        d7JxM3LeegRYGc+53jxawYjpSZUAR3gLlxhqq81d125n2ajW2QZvhSkNOlHPD2eu
        1cerWv3bdpudI7Rkp6zGlC3aZBL0tIGZ/vyx14SA+sSRgRUm0ru7eUFY+ooApAZN
        uwIDAQAB
        -----END PUBLIC KEY-----
        """
    /// A key the host application does not have: a wrong signature.
    public static let otherRSAPrivate = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC36g2SXiI9T6w6
        ZQO/EvcXvVlvs+7X4L5Blu+HhgUKUm6GIgbBslWpym0Yf6Ay7qWY0Rbs5/ImQTs2
        HmJ3uqeI8FfvTSK60thjjdOd04r9bJG4lH5JRz1WiRMoCJhl5uA8ojonTCpV9EdS
        D7DW8hkZRSS5ZDL4PvCDIMFp8eaHh54HutmXMh2aW1EWnz0Ir/voPtqtn5x572Lg
        N8r05I4DB76P6fZa5YtRfzyI3hyArpJiMEbgll4j5XT3lmG3636bbknRHM7WIWcS
        hf5u/hrYvRq0nB0wNtL3kqUKIp0c/brYiCyzg8oowevEB7n8ecEf7VDH0HrMTogG
        KVxekRULAgMBAAECggEAFVTUVicM7vI6wQXOYBnMXGMzPb2E9Q0K2YNZgkKNJcas
        gxTsll1033NXIVb24cbES5aU2M2I9zRBsI6S+ogaaSEB/K4vBQmc3OR/qE1M+wUz
        XFFSLyBQK6VNJNY6YYyxyCvuICNkFawg9D0AVINSs0JNzCL5tnQLuWnR2n6a2m/c
        OpCWiFMdnOJ89K0xNSTlT6nx/G7FUHDSn0euS0vlizCKbtJPuzVBE3lfpyi0d/aF
        gZiBnNs0ejJqWZo6ys2couwgiVK6hoZtTfC/jYjAG2UTWmUa9YPR1oXSk/hhbLGZ
        uBZkq/t92ANd9JUU6/PAlQEptOC4OT1rTq2mXa4FoQKBgQD6MgKa4UrwITkC/V2U
        8/2TqqmW5/tVCopdDfPIN3z23FmwurKV/cPjJQsSW01QnzEFv2xNioxYpnFQ+n21
        tqaPWyZMOoam9OM7SBlEBWi4SbRCjnqXsa4j7w6vyNmDw/zYYh5UUmtr/vZz7BOK
        wmeQqzGgEvFJp8KR3PpOxmmPVQKBgQC8LmDecx6dPX9f9C7StMzRbsdHD03p+IFv
        EuU1myibLajhWqWqXCfBHbABvv+5CxsdRNj4klz1ue6qkQlvnmBM29loxWbU5jH2
        ehEHKsCHGyQwOWylVUNUBeCmBzbdoi+BAg/3SIbn5tixjCSKcBF/atcgFyz5ZTLa
        UR3RzeRS3wKBgQD1q+Wi71YGNJkmtmMNwAde2FVuOJwyBQeYF/sovlOWkwf+4VQ6
        s9OFVvpoK/7fC3G3kx9lhIYLBmR+f3iw1Yj3eyk/8LgHeK8npsQoZqdNThISyJTY
        H0A/SJ3DPhVXrTq5vp7JbaTNhq25ZjZKKlpHU9KGvBLxoCkN0U53y5wbgQKBgGP1
        Tsda5xwnGo3hqy2JlHJ7IaeBXaW2typFIzPCY2NqcZajC/TeVs+h8Wg8CKJGX/TA
        KXCAbpioVzqLKDP+MLEi5u1cTi8wx8FhPcJM10/s/uAO4MNB8y2ioZ4PnvlDuXAR
        pGF6SQ7N9LT6+D4BIYpJOlR1exJOyyBkji5v66SJAoGADp3cf4TtOfdAoCRAV/V9
        Qk6brNHp3t7gqG+06BbPZ4xvF0BARYXATaDlLy+9ms+3oTKvG1lbNhmzNcE/cUHb
        Agg5tF4EN6IWT0PbwlfS6F9rhjj5o92yNTBokWMsGQvCSrs45PGqwresU8SbkBOh
        1277wRt/eORlo6D/PD/01rI=
        -----END PRIVATE KEY-----
        """
    /// ES256: the host application's private key.
    public static let ecPrivate = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwvxuR8eH06mvzooh
        ClTHd0BBtjFHFbw5hG4DH/tDoy2hRANCAAS70LJCex08+IK1XjUB9R2ujikxifju
        EfLTwHVBEZok0CSRMfwbzehhBuWmaJUZXv6lKeNQ9v33E9M4XeoUw03h
        -----END PRIVATE KEY-----
        """
    /// ES256: what `jwt_public_key_file` holds.
    public static let ecPublic = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEu9CyQnsdPPiCtV41AfUdro4pMYn4
        7hHy08B1QRGaJNAkkTH8G83oYQblpmiVGV7+pSnjUPb99xPTOF3qFMNN4Q==
        -----END PUBLIC KEY-----
        """
}
