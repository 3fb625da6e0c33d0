//! The `migrate` Lambda: invoked by the deploy pipeline from inside the VPC
//! before any function moves to the new code, and by an operator for a
//! rotation step. Any failure fails the invocation, and so the deploy.

use std::sync::Arc;

use flux_migrate::{Invocation, Migrator};
use flux_shared::config::{self, ProcessEnv};
use flux_shared::secrets::Secrets;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let migrator = &config::start(async {
        let secrets = Arc::new(Secrets::from_env(&ProcessEnv).await?);
        Migrator::from_env(&ProcessEnv, &secrets).await
    })
    .await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            Ok::<_, Error>(migrator.run(event.payload.action).await?)
        },
    ))
    .await
}
