//! A private certificate authority made with openssl for the TLS tests: a CA, a server
//! certificate for 127.0.0.1 signed by it, a client certificate (with its key also in PKCS#1
//! form and both in one PEM "keystore"), and an unrelated CA. Readable by the postgres user,
//! whose server refuses a key anyone else can read.

use std::path::PathBuf;
use std::process::Command;

pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn make() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("sluice-pki-")
            .tempdir()
            .unwrap();
        let script = r#"
set -e
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice test CA" -keyout ca.key -out ca.pem
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=someone else's CA" -keyout other-ca.key -out other-ca.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=cdc-client" -keyout client.key -out client.csr
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem
openssl rsa -in client.key -traditional -out client-rsa.key
cat client.pem client-rsa.key > client-keystore.pem
chmod 755 .
chmod 644 *.pem
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then chown postgres server.key; fi
chmod 600 server.key
"#;
        let out = Command::new("sh")
            .args(["-c", script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn arg(&self, option: &str, file: &str) -> String {
        format!("--{option}={}", self.path(file).display())
    }
}
