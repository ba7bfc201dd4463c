//! Put/GetBucketNotificationConfiguration (issue #12 item 6): topic and queue configurations
//! whose ARN names a Kafka topic, with event names and prefix/suffix filters; stored with the
//! bucket as `cloudstore_events::notification::Rules`. The relay publishes matching events
//! in the AWS S3 event message format (`cloudstore_notifier::publish`).

use cloudstore_events::EventType;
use cloudstore_events::notification::{Destination, Rule, Rules};
use cloudstore_store_api::BucketConfig;
use s3s::dto::{
    FilterRule, FilterRuleName, GetBucketNotificationConfigurationInput, GetBucketNotificationConfigurationOutput,
    NotificationConfigurationFilter, PutBucketNotificationConfigurationInput, PutBucketNotificationConfigurationOutput,
    QueueConfiguration, S3KeyFilter, TopicConfiguration,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::error::StoreResultExt as _;

/// Most rules one bucket may hold.
const MAX_RULES: usize = 100;

/// Prefix and suffix of a filter (each at most once).
fn filter_of(f: Option<&NotificationConfigurationFilter>) -> S3Result<(Option<String>, Option<String>)> {
    let (mut prefix, mut suffix) = (None, None);
    for r in f.and_then(|f| f.key.as_ref()).and_then(|k| k.filter_rules.as_ref()).into_iter().flatten() {
        let name = r.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default();
        let value = r.value.clone().unwrap_or_default();
        let slot = match name.as_str() {
            "prefix" => &mut prefix,
            "suffix" => &mut suffix,
            _ => return Err(s3_error!(InvalidArgument, "filter rule name must be either prefix or suffix")),
        };
        if slot.replace(value).is_some() {
            return Err(s3_error!(InvalidArgument, "Cannot specify more than one {name} rule in a filter."));
        }
    }
    Ok((prefix, suffix))
}

fn filter_out(rule: &Rule) -> Option<NotificationConfigurationFilter> {
    let mut rules = Vec::new();
    for (name, value) in [(FilterRuleName::PREFIX, &rule.prefix), (FilterRuleName::SUFFIX, &rule.suffix)] {
        if let Some(v) = value {
            rules.push(FilterRule { name: Some(FilterRuleName::from_static(name)), value: Some(v.clone()) });
        }
    }
    if rules.is_empty() {
        return None;
    }
    Some(NotificationConfigurationFilter { key: Some(S3KeyFilter { filter_rules: Some(rules) }) })
}

fn rule(
    destination: Destination,
    id: Option<String>,
    arn: String,
    events: Vec<s3s::dto::Event>,
    filter: Option<&NotificationConfigurationFilter>,
) -> S3Result<Rule> {
    let (prefix, suffix) = filter_of(filter)?;
    let topic = cloudstore_events::notification::topic_of(&arn).map_err(|e| s3_error!(InvalidArgument, "{e}"))?;
    Ok(Rule {
        id: id.filter(|i| !i.is_empty()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        destination,
        arn,
        topic,
        events: events.into_iter().map(String::from).collect(),
        prefix,
        suffix,
    })
}

impl Gateway {
    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketNotificationConfiguration", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let input = req.input;
        self.bucket(&input.bucket).await?;
        let c = input.notification_configuration;
        if c.lambda_function_configurations.as_ref().is_some_and(|l| !l.is_empty()) {
            return Err(s3_error!(
                InvalidArgument,
                "Lambda function destinations are not supported; use a topic or queue ARN naming a Kafka topic."
            ));
        }
        if c.event_bridge_configuration.is_some() {
            return Err(s3_error!(
                InvalidArgument,
                "EventBridge is not supported; use a topic or queue ARN naming a Kafka topic."
            ));
        }
        let mut rules = Vec::new();
        for t in c.topic_configurations.unwrap_or_default() {
            rules.push(rule(Destination::Topic, t.id, t.topic_arn, t.events, t.filter.as_ref())?);
        }
        for q in c.queue_configurations.unwrap_or_default() {
            rules.push(rule(Destination::Queue, q.id, q.queue_arn, q.events, q.filter.as_ref())?);
        }
        if rules.len() > MAX_RULES {
            return Err(s3_error!(
                InvalidArgument,
                "A bucket may have at most {MAX_RULES} notification configurations."
            ));
        }
        let rules = Rules { rules };
        rules.validate().map_err(|e| s3_error!(InvalidArgument, "{e}"))?;
        // As AWS checks its destinations: without Kafka there is nowhere to deliver.
        if !rules.rules.is_empty() && !self.cfg.notifications {
            return Err(s3_error!(
                InvalidArgument,
                "Unable to validate the following destination configurations: notifications need Kafka (CLOUDSTORE_KAFKA_BROKERS) and events on."
            ));
        }
        let stored = if rules.rules.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&rules).map_err(|e| s3_error!(InternalError, "{e}"))?)
        };
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, &input.bucket, None);
            e.status = Some(200);
            e.detail.insert("config".into(), "notification".into());
            e.detail.insert("rules".into(), rules.rules.len().to_string());
            e
        });
        let done = self
            .meta
            .set_bucket_config(&input.bucket, BucketConfig::Notification, stored.as_deref(), &events)
            .await
            .s3();
        self.bucket_changed(&input.bucket);
        done?;
        self.committed(&events);
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketNotificationConfiguration", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let rules: Rules = match b.notification.as_deref() {
            Some(json) => {
                serde_json::from_str(json).map_err(|e| s3_error!(InternalError, "stored notification rules: {e}"))?
            }
            None => Rules::default(),
        };
        let (mut topics, mut queues) = (Vec::new(), Vec::new());
        for r in &rules.rules {
            let events: Vec<s3s::dto::Event> = r.events.iter().cloned().map(s3s::dto::Event::from).collect();
            match r.destination {
                Destination::Topic => topics.push(TopicConfiguration {
                    events,
                    filter: filter_out(r),
                    id: Some(r.id.clone()),
                    topic_arn: r.arn.clone(),
                }),
                Destination::Queue => queues.push(QueueConfiguration {
                    events,
                    filter: filter_out(r),
                    id: Some(r.id.clone()),
                    queue_arn: r.arn.clone(),
                }),
            }
        }
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            topic_configurations: (!topics.is_empty()).then_some(topics),
            queue_configurations: (!queues.is_empty()).then_some(queues),
            ..Default::default()
        }))
    }
}
