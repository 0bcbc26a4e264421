-- 007_notify_ops_email.sql: fraud alerts can also go by e-mail to the operations address
-- (notify.ops.email), as outbox channel 'ops_email' (like 'ops', it ignores user preferences).
ALTER TABLE notify_outbox DROP CONSTRAINT IF EXISTS notify_outbox_channel_check;
ALTER TABLE notify_outbox ADD CONSTRAINT notify_outbox_channel_check
    CHECK (channel IN ('inapp', 'webhook', 'email', 'ops', 'ops_email'));
