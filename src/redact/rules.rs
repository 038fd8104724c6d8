//! The built-in redaction rules, as one table of data.
//!
//! Each rule names its kind (written into the text as `[REDACTED:<kind>]`),
//! says what it finds, gives its regex and an example that must be redacted
//! (a test runs every example), lists the anchors that gate it and whether
//! a match may span lines, and names the check a match must pass. Order is priority: when matches of two rules
//! overlap, the union is replaced and takes the earlier rule's kind, so the
//! specific formats come first and the loose assignment rules last.
//!
//! Regex conventions: a group named `secret` (or `secret_sq`, `secret_bare`:
//! the quoted and bare alternatives of an assignment) is the part replaced,
//! so the text around it stays searchable; without one the whole match is
//! replaced. `name`, `sep`, `flag` and `next` give the assignment checks
//! their context. Word boundaries (`(?-u:\b)`) and case-insensitivity
//! (`(?i-u:…)`) are ASCII-only, which keeps the regex engine on its fast
//! DFA path for text with non-ASCII letters and its literal sets small.

/// What a match must pass, beyond its regex, to count as a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A format with its own prefix and alphabet: it must only not be glued
    /// to letters or digits around it (a JSON escape like `\n` counts as a
    /// separator).
    Bounded,
    /// As `Bounded`, and the body must look random (see
    /// `checks::looks_random`): for prefixes that also start words.
    BoundedRandom,
    /// A value that must not be a placeholder or reference (`${X}`,
    /// `<your-token>`, `****`, the word `password`, an `ENV_VAR_NAME`).
    NotPlaceholder,
    /// A PEM or PGP block with key material in it: a run of at least 24
    /// base64 characters, unlike the empty blocks of tests and docs.
    KeyBlock,
    /// Encoded credentials (`Authorization: Basic dXNlcjpwYXNz`): not a
    /// placeholder, and not a lowercase word (`Basic from URI` in prose).
    Encoded,
    /// A value assigned to a password-like name: not a placeholder, and not
    /// code that reads a variable (`password = user.password`, `password: str`).
    Literal,
    /// As `Literal`, and credential-shaped: at least 8 characters with a
    /// letter and a digit, no spaces, not built of words (`progress-1`).
    /// Names ending in `token` or `secret` carry many non-secret values
    /// (`max_token: 4096`, `"token": "the"`, `"progressToken": "step-1"`).
    TokenLike,
    /// As `TokenLike`, and random-looking (entropy and character runs, see
    /// `checks::looks_random`), not a path, URL or UUID, and the name is not
    /// one of the well-known non-secret keys (`primary_key`, `public_key`).
    HighEntropy,
}

/// One built-in rule (see the module doc for the conventions).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Written into the text as `[REDACTED:<kind>]`; `[a-z0-9_]+`.
    pub kind: &'static str,
    /// What the rule finds, for docs/PRIVACY.md.
    pub description: &'static str,
    /// The regex (syntax of the `regex` crate).
    pub pattern: &'static str,
    /// Literal strings, one of which every match contains: a text with none
    /// of them skips the regex. Case-sensitive (the prefilter is a SIMD
    /// search that only takes exact literals), so a keyword lists the case
    /// forms people write: `token`, `Token`, `TOKEN`.
    pub anchors: &'static [&'static str],
    /// Whether a match can span lines (PEM blocks). Other rules run only
    /// on the lines where one of their anchors is.
    pub multiline: bool,
    /// Whether the anchor is part of a name given a value (`name: …`,
    /// `name=…`, `"name": …`, `--name …`): anchors not used so (`the key
    /// insight`, `tokens.len()`) do not make the rule run.
    pub assignment: bool,
    /// What a match must pass beyond the regex.
    pub check: Check,
    /// A text the rule must redact (tested).
    pub example: &'static str,
}

/// `NAME <sep> VALUE` for a name matching `$name`: env files, YAML, JSON
/// (also JSON-escaped `\"name\": \"value\"`), TOML, INI, `:=` and `=>` in
/// code, and CLI flags (`--name value`, `--name=value`). The value is double-quoted, single-quoted
/// or bare; a bare value stops at whitespace and the characters that end
/// values in code (`,;&` brackets, quotes, `$`), and the character after it is
/// kept in `next` so the checks can tell a literal from code.
macro_rules! assignment {
    ($name:literal) => {
        concat!(
            r#"(?P<flag>--)?(?-u:\b)(?P<name>(?i-u:"#,
            $name,
            r#"))\\?["']?(?P<sep>[ \t]*(?::=|=>|[:=])[ \t]*|[ \t]+)"#,
            r#"(?:\\?"(?P<secret>(?:[^"\\\r\n]|\\[^"\r\n])*)\\?"|'(?P<secret_sq>[^'\r\n]*)'"#,
            r#"|(?P<secret_bare>[^\s"'`,;&(){}\[\]<>\\$]+)(?P<next>(?s:.))?)"#
        )
    };
}

/// A PEM block with label `$label` (a regex fragment), from BEGIN through
/// END. Lines may end in real newlines or JSON-escaped `\n`. A block cut off
/// before its END line (truncated tool output) is redacted to the end of its
/// base64 lines.
macro_rules! pem {
    ($label:literal) => {
        concat!(
            "-----BEGIN ",
            $label,
            "-----(?:[\\sA-Za-z0-9+/=:,.()@_\\\\-]*?-----END ",
            $label,
            "-----|(?:[ \\t]*(?:\\r?\\n|\\\\r\\\\n|\\\\n)[ \\t]*(?:[A-Za-z0-9+/=]+|[A-Za-z][A-Za-z-]*:[^\\r\\n\\\\]*))*)"
        )
    };
}

/// The built-in rules, highest priority first.
pub const RULES: &[Rule] = &[
    Rule {
        kind: "private_key_rsa",
        description: "PEM RSA private key block (`-----BEGIN RSA PRIVATE KEY-----` … END)",
        pattern: pem!("RSA PRIVATE KEY"),
        anchors: &["-----BEGIN"],
        multiline: true,
        assignment: false,
        check: Check::KeyBlock,
        example: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n-----END RSA PRIVATE KEY-----",
    },
    Rule {
        kind: "private_key_ec",
        description: "PEM EC private key block",
        pattern: pem!("EC PRIVATE KEY"),
        anchors: &["-----BEGIN"],
        multiline: true,
        assignment: false,
        check: Check::KeyBlock,
        example: "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5C\n-----END EC PRIVATE KEY-----",
    },
    Rule {
        kind: "private_key_dsa",
        description: "PEM DSA private key block",
        pattern: pem!("DSA PRIVATE KEY"),
        anchors: &["-----BEGIN"],
        multiline: true,
        assignment: false,
        check: Check::KeyBlock,
        example: "-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQDH2ngVPlmDpKjXbzKM\n-----END DSA PRIVATE KEY-----",
    },
    Rule {
        kind: "private_key_openssh",
        description: "OpenSSH private key block",
        pattern: pem!("OPENSSH PRIVATE KEY"),
        anchors: &["-----BEGIN"],
        multiline: true,
        assignment: false,
        check: Check::KeyBlock,
        example: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----",
    },
    Rule {
        kind: "private_key_encrypted",
        description: "PEM encrypted PKCS#8 private key block",
        pattern: pem!("ENCRYPTED PRIVATE KEY"),
        anchors: &["-----BEGIN"],
        multiline: true,
        assignment: false,
        check: Check::KeyBlock,
        example: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG\n-----END ENCRYPTED PRIVATE KEY-----",
    },
    Rule {
        kind: "private_key_pgp",
        description: "PGP private key block (`-----BEGIN PGP PRIVATE KEY BLOCK-----`)",
        pattern: pem!("PGP PRIVATE KEY BLOCK"),
        anchors: &["-----BEGIN"],
        multiline: true,
        assignment: false,
        check: Check::KeyBlock,
        example: "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGT1x2sBCADHq0YV3u1pZq8m\n=Xk2p\n-----END PGP PRIVATE KEY BLOCK-----",
    },
    Rule {
        kind: "private_key",
        description: "Any other PEM private key block, e.g. PKCS#8 `BEGIN PRIVATE KEY` as in Google service-account JSON (`\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n…\"`)",
        pattern: pem!("(?:[A-Z0-9]+ )*PRIVATE KEY"),
        anchors: &["-----BEGIN"],
        multiline: true,
        assignment: false,
        check: Check::KeyBlock,
        example: r#"{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"}"#,
    },
    Rule {
        kind: "jwt",
        description: "JSON Web Token (`eyJ…` header and payload, signature)",
        pattern: r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        anchors: &["eyJ"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    },
    Rule {
        kind: "aws_access_key",
        description: "AWS access key id (`AKIA`, `ASIA`, `ABIA`, `ACCA` or `A3T…` and 16 upper-case letters and digits)",
        pattern: r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}",
        anchors: &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "export AWS_ACCESS_KEY_ID=AKIAQX7RPZ4N2WLM5TBY",
    },
    Rule {
        kind: "github_pat",
        description: "GitHub classic personal access token (`ghp_`)",
        pattern: r"ghp_[A-Za-z0-9]{36,255}",
        anchors: &["ghp_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "git clone https://ghp_R7k2mQ9xLp4vT8nW3zY6bC1dF5gH0jK2sA4e@github.com/o/r",
    },
    Rule {
        kind: "github_fine_grained_pat",
        description: "GitHub fine-grained personal access token (`github_pat_`)",
        pattern: r"github_pat_[A-Za-z0-9_]{50,255}",
        anchors: &["github_pat_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "GH_TOKEN=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6",
    },
    Rule {
        kind: "github_oauth",
        description: "GitHub OAuth access token (`gho_`)",
        pattern: r"gho_[A-Za-z0-9]{36,255}",
        anchors: &["gho_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "oauth_token: gho_8fK2mP9qL4xV7nB3zW6cT1yR5dG0hJ2sA4kE",
    },
    Rule {
        kind: "github_user_token",
        description: "GitHub App user-to-server token (`ghu_`)",
        pattern: r"ghu_[A-Za-z0-9]{36,255}",
        anchors: &["ghu_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "ghu_3Lk9Qw2Er7Ty4Ui8Op1As6Df5Gh0Jk2Lz3Xc",
    },
    Rule {
        kind: "github_app_token",
        description: "GitHub App installation (server-to-server) token (`ghs_`)",
        pattern: r"ghs_[A-Za-z0-9]{36,255}",
        anchors: &["ghs_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "Authorization: token ghs_Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K",
    },
    Rule {
        kind: "github_refresh_token",
        description: "GitHub refresh token (`ghr_`)",
        pattern: r"ghr_[A-Za-z0-9]{36,255}",
        anchors: &["ghr_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "refresh: ghr_1Qa2Ws3Ed4Rf5Tg6Yh7Uj8Ik9Ol0Pz1Xs2Cd3V",
    },
    Rule {
        kind: "gitlab_pat",
        description: "GitLab personal, project or group access token (`glpat-`)",
        pattern: r"glpat-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*",
        anchors: &["glpat-"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "PRIVATE-TOKEN: glpat-x9Kq2Lm7Np4Rs8Tv3Wz6Y",
    },
    Rule {
        kind: "gitlab_token",
        description: "Other GitLab tokens: deploy (`gldt-`), runner (`glrt-`, `GR1348941`), CI job (`glcbt-`), pipeline trigger (`glptt-`), OAuth application secret (`gloas-`)",
        pattern: r"(?:(?:gldt|glrt|glcbt|glptt|gloas)-|GR1348941)[A-Za-z0-9_-]{20,}",
        anchors: &["gldt-", "glrt-", "glcbt-", "glptt-", "gloas-", "GR1348941"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "runner token glrt-Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op",
    },
    Rule {
        kind: "slack_token",
        description: "Slack bot, user, workspace and refresh tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxe-`…)",
        pattern: r"xox[abeoprs]-[A-Za-z0-9-]{10,}",
        anchors: &["xox"],
        multiline: false,
        assignment: false,
        check: Check::BoundedRandom,
        example: "SLACK_BOT_TOKEN=xoxb-2048193726-4096385172-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1",
    },
    Rule {
        kind: "slack_app_token",
        description: "Slack app-level token (`xapp-`)",
        pattern: r"xapp-[0-9]+-[A-Z0-9]+-[0-9]+-[a-z0-9]+",
        anchors: &["xapp-"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "xapp-1-A04BCDEFGH1-5123456789012-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
    },
    Rule {
        kind: "slack_webhook",
        description: "Slack incoming webhook URL (the path after `hooks.slack.com/services/`; the host stays)",
        pattern: r"(?i-u:hooks\.slack\.com/(?:services|workflows|triggers)/)(?P<secret>[A-Za-z0-9+/_-]{20,})",
        anchors: &["hooks.slack.com"],
        multiline: false,
        assignment: false,
        check: Check::NotPlaceholder,
        example: "curl -X POST https://hooks.slack.com/services/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",
    },
    Rule {
        kind: "stripe_secret_key",
        description: "Stripe secret key, live or test (`sk_live_`, `sk_test_`)",
        pattern: r"sk_(?:live|test)_[A-Za-z0-9]{16,}",
        anchors: &["k_live_", "k_test_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "stripe.api_key = 'sk_live_51Hq8Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh'",
    },
    Rule {
        kind: "stripe_restricted_key",
        description: "Stripe restricted key (`rk_live_`, `rk_test_`)",
        pattern: r"rk_(?:live|test)_[A-Za-z0-9]{16,}",
        anchors: &["k_live_", "k_test_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "STRIPE_KEY=rk_live_51Hq8Lm2Np9Rs4Tv8Wz3Yb6Cd",
    },
    Rule {
        kind: "stripe_webhook_secret",
        description: "Stripe webhook signing secret (`whsec_`)",
        pattern: r"whsec_[A-Za-z0-9]{24,}",
        anchors: &["whsec_"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "whsec_7Hq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh",
    },
    Rule {
        kind: "anthropic_api_key",
        description: "Anthropic API and admin keys (`sk-ant-`)",
        pattern: r"sk-ant-[A-Za-z0-9_-]{20,}",
        anchors: &["sk-ant-"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "ANTHROPIC_API_KEY=sk-ant-api03-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk-AA",
    },
    Rule {
        kind: "openai_api_key",
        description: "OpenAI API keys: project, service-account and admin (`sk-proj-`, `sk-svcacct-`, `sk-admin-`) and legacy `sk-` + 32 or more letters and digits",
        pattern: r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{32,})",
        anchors: &["sk-"],
        multiline: false,
        assignment: false,
        check: Check::BoundedRandom,
        example: "client = OpenAI(api_key=\"sk-proj-Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk2\")",
    },
    Rule {
        kind: "google_api_key",
        description: "Google API key (`AIza` + 35)",
        pattern: r"AIza[0-9A-Za-z_-]{35}",
        anchors: &["AIza"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "?key=AIzaSyD4x8Kq2Lm7Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh",
    },
    Rule {
        kind: "google_oauth_token",
        description: "Google OAuth access token (`ya29.`)",
        pattern: r"ya29\.[0-9A-Za-z_-]{20,}",
        anchors: &["ya29."],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "gcloud auth print-access-token\nya29.a0AfH6SMBx7Kq2Lm9Np4Rs8Tv3Wz6Yb1Cd5Ef0Gh",
    },
    Rule {
        kind: "huggingface_token",
        description: "Hugging Face access token (`hf_`)",
        pattern: r"hf_[A-Za-z]{34,}",
        anchors: &["hf_"],
        multiline: false,
        assignment: false,
        check: Check::BoundedRandom,
        example: "HF_TOKEN=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",
    },
    Rule {
        kind: "npm_token",
        description: "npm access token (`npm_`), and the `_authToken` / `_auth` / `_password` of an `.npmrc` registry line",
        pattern: r"npm_[A-Za-z0-9]{36}|:_(?:authToken|auth|password)[ \t]*=[ \t]*(?P<secret>[^\s\x22'$]+)",
        anchors: &["npm_", ":_auth", ":_password"],
        multiline: false,
        assignment: false,
        check: Check::NotPlaceholder,
        example: "//registry.npmjs.org/:_authToken=9f8e7d6c-5b4a-3210-fedc-ba9876543210",
    },
    Rule {
        kind: "pypi_token",
        description: "PyPI upload token (`pypi-AgE…`)",
        pattern: r"pypi-AgE[A-Za-z0-9_-]{50,}",
        anchors: &["pypi-"],
        multiline: false,
        assignment: false,
        check: Check::Bounded,
        example: "password = pypi-AgEIcHlwaS5vcmcCJGQ4ZjRlNjE1LWFiMmMtNDM5ZC04YjE0LTVmMzE2ZDgwNTFhYwACKlsz",
    },
    Rule {
        kind: "crates_io_token",
        description: "crates.io API token (`cio` + 32 letters and digits)",
        pattern: r"cio[A-Za-z0-9]{32}",
        anchors: &["cio"],
        multiline: false,
        assignment: false,
        check: Check::BoundedRandom,
        example: "cargo login cioAbC3dEf5GhI7jKl9MnO1pQr3StU5vWx7",
    },
    Rule {
        kind: "azure_storage_key",
        description: "Azure storage account key in a connection string (`AccountKey=`)",
        pattern: r"(?i-u:AccountKey)[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9+/]{20,}={0,2})",
        anchors: &["AccountKey"],
        multiline: false,
        assignment: true,
        check: Check::NotPlaceholder,
        example: "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=q8W2e4R6t8Y0u2I4o6P8a0S2d4F6g8H0j2K4l6Z8x0C2v4B6n8M0==;EndpointSuffix=core.windows.net",
    },
    Rule {
        kind: "azure_shared_access_key",
        description: "Azure Service Bus / Event Hubs shared access key (`SharedAccessKey=`)",
        pattern: r"(?i-u:SharedAccessKey)[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9+/]{20,}={0,2})",
        anchors: &["SharedAccessKey"],
        multiline: false,
        assignment: true,
        check: Check::NotPlaceholder,
        example: "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1Pa9Sd0Fg8Hj7K=",
    },
    Rule {
        kind: "azure_sas_signature",
        description: "Signature of an Azure shared access signature (`sig=` in a SAS URL or `SharedAccessSignature=`)",
        pattern: r"[?&;](?i-u:sig)=(?P<secret>[A-Za-z0-9%+/=]{16,})",
        anchors: &["sig="],
        multiline: false,
        assignment: false,
        check: Check::NotPlaceholder,
        example: "https://acme.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&sp=r&sig=Xq7Lm2Np9Rs4Tv8Wz3Yb6Cd1Ef5Gh0Jk%3D",
    },
    Rule {
        kind: "aws_secret_key",
        description: "AWS secret access key (40 characters) assigned to `aws_secret_access_key`, `SecretAccessKey` and the like",
        pattern: r#"(?P<name>(?i-u:(?:aws[_.-]?)?secret[_.-]?access[_.-]?key|aws[_.-]?secret[_.-]?key))\\?["']?[ \t]*[:=][ \t]*\\?["']?(?P<secret>[A-Za-z0-9/+]{40})"#,
        anchors: &["secret", "Secret", "SECRET"],
        multiline: false,
        assignment: true,
        check: Check::Bounded,
        example: "aws_secret_access_key = Jq8rT2vX5zB7nM4kL1pW9sD3fG6hY0cE2aU8iO5e",
    },
    Rule {
        kind: "bearer_token",
        description: "Credentials of an `Authorization: Bearer …` or `Authorization: token …` header (header and scheme stay)",
        pattern: r#"(?-u:\b)(?i-u:(?:proxy-)?authorization)\\?["']?[ \t]*[:=][ \t]*\\?["']?[ \t]*(?i-u:bearer|token)[ \t]+(?P<secret>[A-Za-z0-9._~+/=-]+)"#,
        anchors: &["Authorization", "authorization"],
        multiline: false,
        assignment: true,
        check: Check::NotPlaceholder,
        example: "curl -H \"Authorization: Bearer xyz\" https://api.example.com",
    },
    Rule {
        kind: "basic_auth",
        description: "Credentials of an `Authorization: Basic …` header (header and scheme stay)",
        pattern: r#"(?-u:\b)(?i-u:(?:proxy-)?authorization)\\?["']?[ \t]*[:=][ \t]*\\?["']?[ \t]*(?i-u:basic)[ \t]+(?P<secret>[A-Za-z0-9+/=]+)"#,
        anchors: &["Authorization", "authorization"],
        multiline: false,
        assignment: true,
        check: Check::Encoded,
        example: "Authorization: Basic dXNlcjpodW50ZXIy",
    },
    Rule {
        kind: "url_password",
        description: "Password in a URL with credentials (`scheme://user:password@host`; scheme, user and host stay)",
        pattern: r"(?-u:\b)(?i-u:[a-z][a-z0-9+.-]{0,30})://[^\s:/?#@\[\]]*:(?P<secret>[^\s/?#]+)@[^\s/?#@]",
        anchors: &["://"],
        multiline: false,
        assignment: false,
        check: Check::NotPlaceholder,
        example: "DATABASE_URL=postgres://app:Tr0ub4dor3@db.internal:5432/app",
    },
    Rule {
        kind: "password",
        description: "Value assigned to a name ending in password, passwd, passphrase or pwd (env, YAML, JSON, TOML, CLI `--password x`)",
        pattern: assignment!("[a-z0-9_.-]*?(?:password|passwd|passphrase|pwd)"),
        anchors: &["passw", "Passw", "PASSW", "passphrase", "Passphrase", "PASSPHRASE", "pwd", "Pwd", "PWD"],
        multiline: false,
        assignment: true,
        check: Check::Literal,
        example: "password=hunter2",
    },
    Rule {
        kind: "api_key",
        description: "Value assigned to an API, access, secret, private, auth, client or signing key name (`api_key`, `apiKey`, `X-Api-Key`, `secret_key`)",
        pattern: assignment!(
            "[a-z0-9_.-]*?(?:api|access|secret|private|auth|client|signing|encryption|master|app|license)[_.-]?key"
        ),
        anchors: &["key", "Key", "KEY"],
        multiline: false,
        assignment: true,
        check: Check::TokenLike,
        example: "\"apiKey\": \"a8f3K29dLq7Zx0\"",
    },
    Rule {
        kind: "secret",
        description: "Value assigned to a name ending in secret (`client_secret`, `JWT_SECRET`)",
        pattern: assignment!("[a-z0-9_.-]*?secret"),
        anchors: &["secret", "Secret", "SECRET"],
        multiline: false,
        assignment: true,
        check: Check::TokenLike,
        example: "client_secret: 9a7Fq2LmX8",
    },
    Rule {
        kind: "token",
        description: "Value assigned to a name ending in token (`token`, `access_token`, `GITHUB_TOKEN`, `--token x`)",
        pattern: assignment!("[a-z0-9_.-]*?token"),
        anchors: &["token", "Token", "TOKEN"],
        multiline: false,
        assignment: true,
        check: Check::TokenLike,
        example: "curl 'https://api.example.com/v1/items?access_token=3fQ9xLm27Kd&limit=5'",
    },
    Rule {
        kind: "bearer_token",
        description: "A random-looking token after the word Bearer, without the header name",
        pattern: r"(?-u:\b)(?i-u:bearer)[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)",
        anchors: &["bearer", "Bearer", "BEARER"],
        multiline: false,
        assignment: false,
        check: Check::HighEntropy,
        example: "send it as Bearer 7Hq2Lm9Np4Rs8Tv3Wz6Yb1Cd",
    },
    Rule {
        kind: "generic_secret",
        description: "A random-looking value (entropy, see the module doc) assigned to any name containing key, secret, token or password",
        pattern: assignment!("[a-z0-9_.-]*?(?:key|secret|token|passw(?:or)?d)[a-z0-9_.-]*"),
        anchors: &[
            "key", "Key", "KEY", "secret", "Secret", "SECRET", "token", "Token", "TOKEN", "passw", "Passw", "PASSW",
        ],
        multiline: false,
        assignment: true,
        check: Check::HighEntropy,
        example: "SIGNING_KEY_V2=Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1",
    },
];

// The prefilter keeps the rules a text needs in one u64.
const _: () = assert!(RULES.len() <= 64);
