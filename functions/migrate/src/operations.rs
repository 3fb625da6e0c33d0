//! What the deployed `migrate` Lambda does when invoked. The deploy pipeline
//! sends `{}` (migrate); an operator sends one rotation step at a time (see
//! infrastructure/README.md "Rotation"). Every action is safe to repeat.

use std::sync::Arc;

use flux_shared::config::{self, StartupError, Vars};
use flux_shared::db::DbSettings;
use flux_shared::secrets::{ExposeSecret, SecretString, Secrets, SecretsError};
use flux_shared::tokens::keys::{self, AuthKeys, KeyChange};
use serde::{Deserialize, Serialize};

use crate::{migrate, set_role_password, MigrateError, MigrationReport, APP_ROLE};

/// What its deployment sets (Terraform's `routes.tf`); a test holds both to it.
pub const ENVIRONMENT: &[&str] = flux_shared::environment![
    flux_shared::config::FUNCTION_ENVIRONMENT,
    flux_shared::db::APP_ENVIRONMENT,
    &[
        "DB_OWNER_SECRET_ID",
        "DB_STATEMENT_TIMEOUT_MS",
        "DB_LOCK_TIMEOUT_MS"
    ],
    &["AUTH_KEYS_SECRET_ID", "AUTH_PUBLIC_KEYS_SECRET_ID"],
];

/// The application logs in as one of two roles, both members of
/// [`APP_ROLE`]; a rotation sets a fresh password on the one not in use and
/// then switches the secret to it, so containers still holding the old
/// credentials keep connecting until they read the secret again.
const LOGIN_ROLES: [&str; 2] = ["flux_app_a", "flux_app_b"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Apply pending migrations, give the app role the secret's password,
    /// and make sure signing keys exist and are published.
    #[default]
    Migrate,
    /// Publish a new signing key without signing with it yet.
    StageSigningKey,
    /// Sign with the newest key (staged at least 10 minutes before).
    ActivateSigningKey,
    /// Drop every key but the active one (25 minutes after activating).
    RetireSigningKeys,
    /// A fresh database password for the application.
    RotateAppPassword,
}

/// The invocation's payload: `{}` or `{"action": "<action>"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    #[serde(default)]
    pub action: Action,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<MigrationReport>,
    /// The key that signs, and every key published to verifiers.
    pub active_kid: Option<String>,
    pub published_kids: Vec<String>,
    /// The login role the application secret names now.
    pub app_role: Option<String>,
}

/// Built once per container.
pub struct Migrator {
    owner: DbSettings,
    secrets: Arc<Secrets>,
    app_secret_id: String,
    keys_secret_id: String,
    public_keys_secret_id: String,
}

impl Migrator {
    /// The state as deployed: every setting from `vars`, secrets through `secrets`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, StartupError> {
        Ok(Self {
            owner: DbSettings::from_env(vars, secrets, "DB_OWNER_SECRET_ID").await?,
            secrets: Arc::clone(secrets),
            app_secret_id: config::required(vars, flux_shared::db::APP_SECRET_ID)?,
            keys_secret_id: config::required(vars, "AUTH_KEYS_SECRET_ID")?,
            public_keys_secret_id: config::required(vars, "AUTH_PUBLIC_KEYS_SECRET_ID")?,
        })
    }

    pub async fn run(&self, action: Action) -> Result<Outcome, MigrateError> {
        let mut outcome = Outcome {
            action,
            migrations: None,
            active_kid: None,
            published_kids: Vec::new(),
            app_role: None,
        };
        match action {
            Action::Migrate => {
                let mut client = self.owner.connect().await?;
                outcome.migrations = Some(migrate(&mut client).await?);
                let app = self.app_credentials().await?;
                set_role_password(&client, &app.role, &app.password).await?;
                outcome.app_role = Some(app.role);
                self.ensure_signing_keys().await?;
            }
            Action::StageSigningKey => self.change_keys(KeyChange::Stage).await?,
            Action::ActivateSigningKey => self.change_keys(KeyChange::Activate).await?,
            Action::RetireSigningKeys => self.change_keys(KeyChange::Retire).await?,
            Action::RotateAppPassword => outcome.app_role = Some(self.rotate_app_password().await?),
        }
        if action != Action::RotateAppPassword {
            let keys = self.publish_public_keys().await?;
            outcome.active_kid = Some(keys.active_kid);
            outcome.published_kids = keys.public_keys.into_iter().map(|k| k.kid).collect();
        }
        tracing::info!(outcome = %serde_json::to_string(&outcome).unwrap_or_default(), "done");
        Ok(outcome)
    }

    /// A first deploy creates the signing keys (Terraform never sees them).
    async fn ensure_signing_keys(&self) -> Result<(), MigrateError> {
        match self.secrets.refresh(&self.keys_secret_id).await {
            Ok(_) => Ok(()),
            Err(SecretsError::NotFound { .. }) => {
                let fresh = keys::generate_secret(&keys::new_kid());
                self.secrets.put(&self.keys_secret_id, &fresh).await?;
                tracing::info!("signing keys created");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn change_keys(&self, change: KeyChange) -> Result<(), MigrateError> {
        let current = self.secrets.refresh(&self.keys_secret_id).await?;
        if let Some(next) = keys::changed(&current, change, &keys::new_kid())? {
            // Publish before storing: a verifier must know a key before
            // anything is signed with it.
            if change == KeyChange::Stage {
                self.publish(&AuthKeys::from_secret(&next)?).await?;
            }
            self.secrets.put(&self.keys_secret_id, &next).await?;
        }
        Ok(())
    }

    /// Every key of the keys secret, public halves only, where verifiers read them.
    async fn publish_public_keys(&self) -> Result<AuthKeys, MigrateError> {
        let keys = AuthKeys::from_secret(&self.secrets.refresh(&self.keys_secret_id).await?)?;
        self.publish(&keys).await?;
        Ok(keys)
    }

    async fn publish(&self, keys: &AuthKeys) -> Result<(), MigrateError> {
        let public = SecretString::from(
            serde_json::to_string(&keys.public_keys).expect("public keys serialize"),
        );
        let published = match self.secrets.refresh(&self.public_keys_secret_id).await {
            Ok(value) => Some(value),
            Err(SecretsError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if published.is_none_or(|p| p.expose_secret() != public.expose_secret()) {
            self.secrets
                .put(&self.public_keys_secret_id, &public)
                .await?;
        }
        Ok(())
    }

    async fn app_credentials(&self) -> Result<AppCredentials, MigrateError> {
        let raw = self.secrets.refresh(&self.app_secret_id).await?;
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(raw.expose_secret())
                .map_err(|_| MigrateError::AppSecret("not a JSON object"))?;
        let role = match fields.get("username") {
            None => APP_ROLE.to_string(),
            Some(serde_json::Value::String(name)) => name.clone(),
            Some(_) => return Err(MigrateError::AppSecret("username is not a string")),
        };
        let Some(serde_json::Value::String(password)) = fields.get("password") else {
            return Err(MigrateError::AppSecret("password is missing"));
        };
        Ok(AppCredentials {
            password: SecretString::from(password.clone()),
            role,
            fields,
        })
    }

    async fn rotate_app_password(&self) -> Result<String, MigrateError> {
        let app = self.app_credentials().await?;
        let next = if app.role == LOGIN_ROLES[0] {
            LOGIN_ROLES[1]
        } else {
            LOGIN_ROLES[0]
        };
        let password = crate::fresh_password();
        let client = self.owner.connect().await?;
        set_role_password(&client, next, &password).await?;
        let mut fields = app.fields;
        fields.insert("username".into(), next.into());
        fields.insert("password".into(), password.expose_secret().into());
        let value = SecretString::from(serde_json::Value::Object(fields).to_string());
        self.secrets.put(&self.app_secret_id, &value).await?;
        tracing::info!(role = next, "application password rotated");
        Ok(next.to_string())
    }
}

struct AppCredentials {
    role: String,
    password: SecretString,
    /// Everything the secret holds, kept as it is when the password changes.
    fields: serde_json::Map<String, serde_json::Value>,
}
