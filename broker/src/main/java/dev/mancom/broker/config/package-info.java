/**
 * The broker configuration: a TOML file (by default {@code /etc/mancom/mancom.toml} plus drop-in files in
 * {@code /etc/mancom/conf.d/}) with a {@code [broker]} table for broker-wide settings and one
 * {@code [service.NAME]} table per service naming the transports it listens on or connects to.
 * <p>
 * {@link dev.mancom.broker.config.ConfigLoader} finds, parses and validates the file(s) and returns an immutable
 * {@link dev.mancom.broker.config.BrokerConfig}; every problem is a
 * {@link dev.mancom.broker.config.ConfigException} naming the file, the line and the dotted key.
 */
package dev.mancom.broker.config;
