//! The redactor against the rule examples, a corpus of secrets of every
//! kind, and a corpus of look-alikes developers search for.

use std::borrow::Cow;

use super::*;

fn redactor() -> Redactor {
    Redactor::new().unwrap()
}

#[test]
fn every_rule_redacts_its_example() {
    let r = redactor();
    let mut failures = Vec::new();
    for rule in RULES {
        let out = r.redact(rule.example);
        if !out.text.contains(&format!("[REDACTED:{}]", rule.kind)) {
            failures.push(format!("{}: {:?} -> {:?}", rule.kind, rule.example, out.text));
        }
        assert!(rule.kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        assert!(!rule.anchors.is_empty() && !rule.description.is_empty(), "{}", rule.kind);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// (text, the secret parts that must be gone, the kind of marker).
const SECRETS: &[(&str, &[&str], &str)] = &[
    ("export AWS_ACCESS_KEY_ID=AKIAQX7RPZ4N2WLM5TBY", &["AKIAQX7RPZ4N2WLM5TBY"], "aws_access_key"),
    ("temporary id ASIAY34FZKBOKMUTVV7A expires soon", &["ASIAY34FZKBOKMUTVV7A"], "aws_access_key"),
    (
        "[default]\naws_secret_access_key = Jq8rT2vX5zB7nM4kL1pW9sD3fG6hY0cE2aU8iO5e\n",
        &["Jq8rT2vX5zB7nM4kL1pW9sD3fG6hY0cE2aU8iO5e"],
        "aws_secret_key",
    ),
    (
        r#"{"Credentials": {"SecretAccessKey": "Hb7Kq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh2Jk4Lm6N"}}"#,
        &["Hb7Kq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh2Jk4Lm6N"],
        "aws_secret_key",
    ),
    (
        "git remote set-url origin https://ghp_R7k2mQ9xLp4vT8nW3zY6bC1dF5gH0jK2sA4e@github.com/o/r.git",
        &["ghp_R7k2mQ9xLp4vT8nW3zY6bC1dF5gH0jK2sA4e"],
        "github_pat",
    ),
    (
        "GH_TOKEN=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6",
        &["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6"],
        "github_fine_grained_pat",
    ),
    ("oauth: gho_8fK2mP9qL4xV7nB3zW6cT1yR5dG0hJ2sA4kE", &["gho_8fK2mP9qL4xV7nB3zW6cT1yR5dG0hJ2sA4kE"], "github_oauth"),
    (
        "user token ghu_3Lk9Qw2Er7Ty4Ui8Op1As6Df5Gh0Jk2Lz3Xc.",
        &["ghu_3Lk9Qw2Er7Ty4Ui8Op1As6Df5Gh0Jk2Lz3Xc"],
        "github_user_token",
    ),
    (
        "Authorization: token ghs_Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K",
        &["ghs_Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K"],
        "github_app_token",
    ),
    (
        "refresh with ghr_1Qa2Ws3Ed4Rf5Tg6Yh7Uj8Ik9Ol0Pz1Xs2Cd3V",
        &["ghr_1Qa2Ws3Ed4Rf5Tg6Yh7Uj8Ik9Ol0Pz1Xs2Cd3V"],
        "github_refresh_token",
    ),
    ("PRIVATE-TOKEN: glpat-x9Kq2Lm7Np4Rs8Tv3Wz6Y", &["glpat-x9Kq2Lm7Np4Rs8Tv3Wz6Y"], "gitlab_pat"),
    ("deploy with gldt-Qw3Er5Ty7Ui9Op1As3Df5G", &["gldt-Qw3Er5Ty7Ui9Op1As3Df5G"], "gitlab_token"),
    (
        "SLACK_BOT_TOKEN=xoxb-2048193726-4096385172-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1",
        &["xoxb-2048193726-4096385172-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1"],
        "slack_token",
    ),
    (
        // Real bot tokens carry 11- and 13-digit ids before the random part.
        "SLACK_BOT_TOKEN=xoxb-51585335699-2681833052188-lwCPRbenZBvlmOvQU0cDIy4I",
        &["xoxb-51585335699-2681833052188-lwCPRbenZBvlmOvQU0cDIy4I"],
        "slack_token",
    ),
    (
        "user token: xoxp-1234567890-0987654321-1122334455-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
        &["xoxp-1234567890-0987654321-1122334455-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"],
        "slack_token",
    ),
    (
        "SLACK_APP_TOKEN=xapp-1-A04BCDEFGH1-5123456789012-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
        &["xapp-1-A04BCDEFGH1-5123456789012"],
        "slack_app_token",
    ),
    (
        "webhook: https://hooks.slack.com/services/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",
        &["T0ABC1DEF/B0GHI2JKL/q8W2e4R6t8Y0u2I4o6P8a0S2"],
        "slack_webhook",
    ),
    (
        "stripe.api_key = \"sk_live_51Hq8Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh\"",
        &["sk_live_51Hq8Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh"],
        "stripe_secret_key",
    ),
    ("STRIPE_SECRET_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc", &["sk_test_4eC39HqLyjWDarjtT1zdp7dc"], "stripe_secret_key"),
    ("restricted: rk_live_51Hq8Lm2Np9Rs4Tv8Wz3Yb6Cd", &["rk_live_51Hq8Lm2Np9Rs4Tv8Wz3Yb6Cd"], "stripe_restricted_key"),
    (
        "endpoint secret whsec_7Hq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh",
        &["whsec_7Hq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh"],
        "stripe_webhook_secret",
    ),
    (
        "OPENAI_API_KEY=sk-proj-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk2-Ab_Cd",
        &["sk-proj-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk2-Ab_Cd"],
        "openai_api_key",
    ),
    (
        "openai.api_key = 'sk-4f8Kq2Lm7Np4Rs8Tv3Wz6Yb1Cd5Ef0GhJk2Lm9Np4Rs8Tv3'",
        &["sk-4f8Kq2Lm7Np4Rs8Tv3Wz6Yb1Cd5Ef0GhJk2Lm9Np4Rs8Tv3"],
        "openai_api_key",
    ),
    (
        "ANTHROPIC_API_KEY=sk-ant-api03-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk-AA",
        &["sk-ant-api03-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk-AA"],
        "anthropic_api_key",
    ),
    (
        "maps.googleapis.com/maps/api/js?key=AIzaSyD4x8Kq2Lm7Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh&callback=init",
        &["AIzaSyD4x8Kq2Lm7Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh"],
        "google_api_key",
    ),
    (
        r#"{"type": "service_account", "project_id": "p", "private_key_id": "1a2b", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7Vh2Kq9Lm4Np\n-----END PRIVATE KEY-----\n", "client_email": "x@p.iam.gserviceaccount.com"}"#,
        &["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "BKcwggSjAgEAAoIBAQC7Vh2Kq9Lm4Np", "BEGIN PRIVATE KEY"],
        "private_key",
    ),
    (
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=q8W2e4R6t8Y0u2I4o6P8a0S2d4F6g8H0j2K4l6Z8x0C2v4B6n8M0==;EndpointSuffix=core.windows.net",
        &["q8W2e4R6t8Y0u2I4o6P8a0S2d4F6g8H0j2K4l6Z8x0C2v4B6n8M0=="],
        "azure_storage_key",
    ),
    (
        "BlobEndpoint=https://acme.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rl&sig=Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk%3D",
        &["Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk%3D"],
        "azure_sas_signature",
    ),
    (
        "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K=",
        &["Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K="],
        "azure_shared_access_key",
    ),
    (
        "cookie session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U; Path=/",
        &["eyJzdWIiOiIxMjM0NTY3ODkwIn0", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
        "jwt",
    ),
    (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n-----END RSA PRIVATE KEY-----\nthanks",
        &["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo", "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw", "RSA PRIVATE KEY"],
        "private_key_rsa",
    ),
    (
        "cat ~/.ssh/id_ed25519\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5\n-----END OPENSSH PRIVATE KEY-----\n",
        &["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", "AAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5"],
        "private_key_openssh",
    ),
    (
        r#"{"output": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5C\noAoGCCqGSM49AwEHoUQDQgAE\n-----END EC PRIVATE KEY-----\n"}"#,
        &["MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5C", "oAoGCCqGSM49AwEHoUQDQgAE"],
        "private_key_ec",
    ),
    (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG\n9w0BBQwwHAQIq8Zx2Lm4Np6CAggA\n-----END ENCRYPTED PRIVATE KEY-----",
        &["MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG", "9w0BBQwwHAQIq8Zx2Lm4Np6CAggA"],
        "private_key_encrypted",
    ),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBGT1x2sBCADHq0YV3u1pZq8m\nKq2Lm7Np4Rs8Tv3Wz6Yb1Cd5\n=Xk2p\n-----END PGP PRIVATE KEY BLOCK-----",
        &["lQOYBGT1x2sBCADHq0YV3u1pZq8m", "Kq2Lm7Np4Rs8Tv3Wz6Yb1Cd5", "=Xk2p"],
        "private_key_pgp",
    ),
    (
        "truncated output:\n-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQDH2ngVPlmDpKjXbzKM\nq8W2e4R6t8Y0u2I4o6P8a0S2d4F6g8\n",
        &["MIIBuwIBAAKBgQDH2ngVPlmDpKjXbzKM", "q8W2e4R6t8Y0u2I4o6P8a0S2d4F6g8"],
        "private_key_dsa",
    ),
    ("password=hunter2", &["hunter2"], "password"),
    ("database:\n  user: app\n  DB_PASSWORD: \"s3cr3t-Pa55\"\n", &["s3cr3t-Pa55"], "password"),
    ("[database]\npassword = \"correct horse battery staple\"\n", &["correct horse battery staple"], "password"),
    ("mysql -u root --password Qz8!pLm2 -h db", &["Qz8!pLm2"], "password"),
    ("pg_dump --password=S3cret! mydb", &["S3cret!"], "password"),
    ("smtp:\n  passwd: Qw3rty!9\n", &["Qw3rty!9"], "password"),
    ("MYSQL_PWD=Xk9#mQ2 mysql -u root", &["Xk9#mQ2"], "password"),
    (r#"{\"username\": \"admin\", \"password\": \"hunter2\"}"#, &["hunter2"], "password"),
    ("client_secret: 9a7Fq2LmX8", &["9a7Fq2LmX8"], "secret"),
    ("token=3fQ9xLm27Kd npm publish", &["3fQ9xLm27Kd"], "token"),
    ("curl -H 'x-api-key: 7Hq2Lm9Np4Rs' https://api.example.com", &["7Hq2Lm9Np4Rs"], "api_key"),
    ("api_key=AbC123xyz789", &["AbC123xyz789"], "api_key"),
    ("DATABASE_URL=postgres://app:Tr0ub4dor3@db.internal:5432/app", &["Tr0ub4dor3"], "url_password"),
    ("redis-cli -u redis://:Rd9pQ2xZ@cache:6379/0", &["Rd9pQ2xZ"], "url_password"),
    ("curl -H \"Authorization: Bearer 9f8e7d6c5b4a\" https://api.example.com", &["9f8e7d6c5b4a"], "bearer_token"),
    ("Proxy-Authorization: Basic dXNlcjpodW50ZXIy", &["dXNlcjpodW50ZXIy"], "basic_auth"),
    (
        "NPM_TOKEN=npm_Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K",
        &["npm_Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K"],
        "npm_token",
    ),
    (
        "//registry.npmjs.org/:_authToken=9f8e7d6c-5b4a-3210-fedc-ba9876543210",
        &["9f8e7d6c-5b4a-3210-fedc-ba9876543210"],
        "npm_token",
    ),
    (
        "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJGQ4ZjRlNjE1LWFiMmMtNDM5ZC04YjE0LTVmMzE2ZDgwNTFhYwACKlsz\n",
        &["pypi-AgEIcHlwaS5vcmcCJGQ4ZjRlNjE1LWFiMmMtNDM5ZC04YjE0LTVmMzE2ZDgwNTFhYwACKlsz"],
        "pypi_token",
    ),
    ("cargo login cioAbC3dEf5GhI7jKl9MnO1pQr3StU5vWx7", &["cioAbC3dEf5GhI7jKl9MnO1pQr3StU5vWx7"], "crates_io_token"),
    (
        "{\"access_token\":\"ya29.a0AfH6SMBx7Kq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh\",\"expires_in\":3599}",
        &["a0AfH6SMBx7Kq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh"],
        "google_oauth_token",
    ),
    ("HF_TOKEN=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", &["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"], "huggingface_token"),
    ("SIGNING_KEY_V2=Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1", &["Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1"], "generic_secret"),
    (
        "encryptionKeyMaterial: \"3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e\"",
        &["3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e"],
        "generic_secret",
    ),
    ("send it as Bearer 7Hq2Lm9Np4Rs8Tv3Wz6Yb1Cd", &["7Hq2Lm9Np4Rs8Tv3Wz6Yb1Cd"], "bearer_token"),
];

#[test]
fn secrets_of_every_kind_are_gone() {
    assert!(SECRETS.len() >= 40);
    let r = redactor();
    let mut failures = Vec::new();
    for (text, secrets, kind) in SECRETS {
        let out = r.redact(text);
        let left: Vec<_> = secrets.iter().filter(|s| out.text.contains(*s)).collect();
        if !left.is_empty() || !out.text.contains(&format!("[REDACTED:{kind}]")) {
            failures.push(format!("{kind}: {:?} left in {:?}", left, out.text));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every built-in kind appears in the corpus.
    for rule in RULES {
        assert!(SECRETS.iter().any(|(_, _, k)| *k == rule.kind), "no secret of kind {}", rule.kind);
    }
}

/// Text developers search for that looks a little like a secret.
const LOOKALIKES: &[&str] = &[
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (HEAD -> main)",
    "fixed in a1b2c3d, reverted by 9fceb02d0ae5",
    "session 550e8400-e29b-41d4-a716-446655440000 resumed",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e  empty.txt",
    "sha1: da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "ETag: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"",
    "![dot](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)",
    "integrity sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
    "see /home/dev/.ssh/id_rsa.pub and src/redact/mod.rs:120",
    "credentials live in ~/.aws/credentials and C:\\Users\\dev\\AppData\\Local\\secrets\\config.json",
    "class AbstractSingletonProxyFactoryBean extends AbstractFactoryBean",
    "let snake_case_long_names_are_fine_here = compute_the_token_budget_for_request();",
    "upgrade to v1.2.3-beta.4, then 2.0.0-rc.1+build.5",
    "If you forgot it, reset your password from the login page.",
    "Please enter your password and token to continue.",
    "The token is stored in the keychain; each token costs money and the token limit is 8k tokens.",
    "token: the next token is predicted from the previous ones",
    "password=\"\"",
    "password=${PASSWORD}",
    "password=<your-password>",
    "token = os.environ[\"TOKEN\"]",
    "token = os.environ.get(\"GITHUB_TOKEN\")",
    "@dataclass\nclass Login:\n    password: str\n    token: Optional[str] = None\n",
    "def login(user: str, password: str) -> bool:",
    "interface Creds { password: string; token?: string }",
    "pub struct Creds {\n    pub password: Option<String>,\n    pub api_key: SecretString,\n}",
    "max_tokens: 4096\ntoken_count=128000\n\"max_output_tokens\": 8192",
    r#"{"token": "Paris", "logprob": -0.01}, {"token": " the", "logprob": -1.2}"#,
    "client.login(username=user, password=password)",
    "password = getpass.getpass()",
    "new_password = old_password",
    "env:\n  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}",
    "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
    "api_key = settings.OPENAI_API_KEY",
    "GET http://localhost:8080/api/v1/tokens and https://github.com/org/repo/blob/main/src/auth/token.rs",
    "git@github.com:org/repo.git and ssh://git@github.com:22/org/repo",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEq8W2e4R6t8Y0u2I4o6P8a0S2d4F6\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl dev@laptop",
    "the task-runner reports disk-usage and a risk-free ask-for-help flow",
    "eyJ is how base64-encoded JSON starts",
    "primary_key: user_id\nsort_key: created_at",
    r#"{"key": "user-123456789-abc", "value": 3}"#,
    "public_key = \"BPxRfiCY7Kd2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh2Jk4Lm6NqWe\"",
    "cache_key = \"3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c8e\"",
    "tokenizer = AutoTokenizer.from_pretrained(\"bert-base-uncased\")",
    "echo \"$PW\" | docker login --password-stdin -u me registry.example.com",
    "usage: tool [--password PASSWORD] [--token TOKEN]",
    "password: ********",
    "curl -H \"Authorization: Bearer $TOKEN\" -H 'Authorization: Bearer <token>'",
    "DATABASE_URL=postgres://user:${DB_PASSWORD}@localhost/db",
    "mysql://root:password@localhost/test",
    "secret_name: my-tls-secret\nsecretKeyRef:\n  name: db-secret\n  key: password",
    "monkey_patch_token_counter = 3; keyboard shortcut: ctrl+k",
    "AKIA is the prefix of AWS access key ids; AKIAIOSFODNN7EXAMPLEXYZ is too long",
    "scikit-learn (sk-learn) and the CIOs who asked",
    "hf_hub_download(repo_id=\"bert-base-uncased\", filename=\"config.json\")",
    "Bearer token authentication is described in RFC 6750.",
    "\"password_min_length\": 12, \"password_expiry_days\": 90",
    "if password == \"\": return None",
    "passwordless login via WebAuthn",
    "**Password:** see the team vault",
    "cd $(pwd)/build && pwd",
    "password_hash = \"$2b$12$KIXQJ1fLm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh2Jk4Lm6NqWeRtYuIoPa\"",
    "model: claude-3-5-sonnet-20241022, key insight: the secret sauce is caching",
    "[REDACTED:password] and [REDACTED:aws_access_key] are markers",
    "ClientTrafficSecret => \"CLIENT_TRAFFIC_SECRET_0\",\nlet traffic_secret = TLS13_CHACHA20_POLY1305_SHA256;",
    "if( nToken>FTS5_MAX_TOKEN_SIZE ) nToken = FTS5_MAX_TOKEN_SIZE;\nNL80211_ATTR_SAE_PASSWORD = 277,",
    "let pem = \"-----BEGIN PRIVATE KEY-----\\n-----END PRIVATE KEY-----\\n\";",
    "* Handle Authorization: Basic from URI #923",
    "{\"_meta\": {\"progressToken\": \"progress-1\"}}",
];

#[test]
fn lookalikes_come_out_unchanged() {
    assert!(LOOKALIKES.len() >= 40);
    let r = redactor();
    let failures: Vec<String> = LOOKALIKES
        .iter()
        .map(|text| (text, r.redact(text)))
        .filter(|(_, out)| !matches!(out.text, Cow::Borrowed(_)) || !out.report.is_empty())
        .map(|(text, out)| format!("{text:?} -> {:?}", out.text))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hints_stay_next_to_the_marker() {
    let r = redactor();
    for (text, want) in [
        ("password=hunter2", "password=[REDACTED:password]"),
        (r#""password": "x""#, r#""password": "[REDACTED:password]""#),
        ("postgres://user:pass123@host/db", "postgres://user:[REDACTED:url_password]@host/db"),
        ("Authorization: Bearer xyz", "Authorization: Bearer [REDACTED:bearer_token]"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED:basic_auth]"),
        ("--password=S3cret! --user me", "--password=[REDACTED:password] --user me"),
        (
            "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY----- done",
            "key: [REDACTED:private_key_rsa] done",
        ),
        (
            r#""private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----\n","#,
            r#""private_key": "[REDACTED:private_key]\n","#,
        ),
        (
            "https://hooks.slack.com/services/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",
            "https://hooks.slack.com/services/[REDACTED:slack_webhook]",
        ),
    ] {
        assert_eq!(r.redact(text).text, want, "{text:?}");
    }
}

#[test]
fn overlapping_finds_become_one_marker_of_the_specific_kind() {
    let r = redactor();
    let out = r.redact("GITHUB_TOKEN=ghp_R7k2mQ9xLp4vT8nW3zY6bC1dF5gH0jK2sA4e");
    assert_eq!(out.text, "GITHUB_TOKEN=[REDACTED:github_pat]");
    assert_eq!(out.report.count(), 1);
    let out = r.redact("https://x-access-token:ghp_R7k2mQ9xLp4vT8nW3zY6bC1dF5gH0jK2sA4e@github.com/o/r");
    assert_eq!(out.text, "https://x-access-token:[REDACTED:github_pat]@github.com/o/r");
}

#[test]
fn the_report_counts_kinds_and_never_holds_a_secret() {
    let r = redactor();
    let text = "a=AKIAQX7RPZ4N2WLM5TBY b=ASIAY34FZKBOKMUTVV7A password=hunter2";
    let out = r.redact(text);
    assert_eq!(out.report.count(), 3);
    assert_eq!(out.report.kinds().collect::<Vec<_>>(), vec![("aws_access_key", 2), ("password", 1)]);
    assert!(!format!("{:?}", out.report).contains("hunter2"));
    let mut total = Report::default();
    total.add(&out.report);
    total.add(&out.report);
    assert_eq!(total.count(), 6);
    assert!(out.is_redacted());
}

#[test]
fn redacting_twice_changes_nothing() {
    let r = redactor();
    let texts =
        SECRETS.iter().map(|(t, _, _)| *t).chain(LOOKALIKES.iter().copied()).chain(RULES.iter().map(|r| r.example));
    for text in texts {
        let once = r.redact(text).text.into_owned();
        let twice = r.redact(&once);
        assert_eq!(twice.text, once, "from {text:?}");
        assert!(twice.report.is_empty(), "{:?} in {once:?}", twice.report);
    }
    let all: String = SECRETS.iter().map(|(t, _, _)| *t).collect::<Vec<_>>().join("\n");
    let once = r.redact(&all).text.into_owned();
    assert_eq!(r.redact(&once).text, once);
}

#[test]
fn text_without_secrets_is_borrowed() {
    let r = redactor();
    for text in ["", "plain words", "a key, a token and a password in prose"] {
        assert!(matches!(r.redact(text).text, Cow::Borrowed(_)));
    }
}

#[test]
fn user_patterns_redact_and_win_overlaps() {
    let extra = [
        UserPattern { kind: "acme_token".into(), regex: r"acme_[a-z0-9]{12}".into() },
        UserPattern { kind: "acme_pin".into(), regex: r"PIN=(?P<secret>\d{4,8})".into() },
    ];
    let r = Redactor::with_extra(&extra).unwrap();
    let out = r.redact("use acme_a1b2c3d4e5f6 with PIN=482913; token=acme_z9y8x7w6v5u4");
    assert_eq!(out.text, "use [REDACTED:acme_token] with PIN=[REDACTED:acme_pin]; token=[REDACTED:acme_token]");
    assert_eq!(r.redact(&out.text).text, out.text);
}

#[test]
fn bad_user_patterns_are_refused_with_context() {
    let bad = |kind: &str, regex: &str| {
        Redactor::with_extra(&[
            UserPattern { kind: "ok".into(), regex: "ok_[0-9]+".into() },
            UserPattern { kind: kind.into(), regex: regex.into() },
        ])
        .unwrap_err()
    };
    let e = bad("acme", "acme_[a-z");
    assert!(matches!(e, RedactError::InvalidRegex { index: 2, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("pattern 2") && msg.contains("acme") && !msg.contains('\n'), "{msg}");
    assert!(matches!(bad("Acme Token", "x"), RedactError::InvalidKind { index: 2, .. }));
    assert!(matches!(bad("acme", "a*"), RedactError::MatchesEmpty { index: 2, .. }));
}

#[test]
fn user_patterns_fit_the_config_file() {
    #[derive(serde::Deserialize)]
    struct File {
        redact: Keys,
    }
    #[derive(serde::Deserialize)]
    struct Keys {
        patterns: Vec<UserPattern>,
    }
    let f: File =
        toml::from_str("[redact]\npatterns = [{ kind = \"acme_token\", regex = \"acme_[a-z0-9]{12}\" }]\n").unwrap();
    assert_eq!(f.redact.patterns, vec![UserPattern { kind: "acme_token".into(), regex: "acme_[a-z0-9]{12}".into() }]);
    let unknown = toml::from_str::<File>("[redact]\npatterns = [{ kind = \"a\", regex = \"b\", flags = \"i\" }]\n");
    assert!(unknown.is_err());
}

#[test]
fn the_redactor_is_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Redactor>();
    let r = redactor();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| assert_eq!(r.redact("password=hunter2").text, "password=[REDACTED:password]"));
        }
    });
}

#[test]
fn the_anchor_scan_stays_on_the_simd_path() {
    let p = prefilter::Prefilter::new(RULES).unwrap();
    assert!(p.count() <= prefilter::SIMD_ANCHOR_LIMIT, "{} anchors", p.count());
}

#[test]
fn a_rule_searches_the_whole_line_of_its_anchor() {
    let r = redactor();
    let text = "first line\nexport MY_VERY_LONG_SERVICE_DATABASE_PASSWORD=hunter2 # set\nlast line";
    assert_eq!(
        r.redact(text).text,
        "first line\nexport MY_VERY_LONG_SERVICE_DATABASE_PASSWORD=[REDACTED:password] # set\nlast line"
    );
    let escaped = r#"{"out": "a\nDB_PASSWORD=hunter2\nb"}"#;
    assert_eq!(r.redact(escaped).text, r#"{"out": "a\nDB_PASSWORD=[REDACTED:password]\nb"}"#);
}

#[test]
fn privacy_doc_lists_every_kind() {
    let doc = include_str!("../../docs/PRIVACY.md");
    for rule in RULES {
        assert!(doc.contains(&format!("`{}`", rule.kind)), "docs/PRIVACY.md lacks {}", rule.kind);
    }
}
