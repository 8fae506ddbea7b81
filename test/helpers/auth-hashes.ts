// Crypt hashes for router.auth tests, made once with libxcrypt (Python's crypt module, the same
// library HAProxy's crypt(3) calls on Debian). Node has no crypt(3): the tests use these fixed
// values. Every hash but ROTATED is of PASSWORD.
export const PASSWORD = 's3cret';
export const ROTATED_PASSWORD = 'n3w-pass';

export const HASHES = {
  bcrypt2b: '$2b$05$paasrouterfixturesalt.h7.GSVdrRwyxcYuDmPjmgbhhCdlP4CS',
  bcrypt2y: '$2y$05$paasrouterfixturesalt.h7.GSVdrRwyxcYuDmPjmgbhhCdlP4CS',
  sha512: '$6$paasrouterfix$03IpwKxNT5IVIJ.XiUvr.jO2M4x5AtjIWfpmlxprLv6tssCZY0HP4TISOhPpaQDNoLpukryVS3CY6MF3OdJlx/',
  sha256: '$5$paasrouterfix$dQX6wl2Cb9TTS4PslCNnjMZqnzf8OF3LHm7F30Sg297',
  yescrypt: '$y$j9T$abcdefghijklmnop$tySFNIfWVy.ymkBDHEMW6bAQ07dlkLVGalgni.VV4l8',
} as const;

/** bcrypt of ROTATED_PASSWORD. */
export const ROTATED = '$2b$05$paasrouterrotatedsalt.f3FkBv8imzSDvb8Duo/BXSW5b/1uGjO';
