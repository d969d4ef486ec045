/**
 * The USB transport: {@code usb://VID:PID?serial=S&interface=N&in=0x81&out=0x02&hotplug=true&poll_ms=500}.
 * <ul>
 *     <li>{@code VID:PID}: vendor and product id, one to four hexadecimal digits each (key {@code vid}, {@code pid}
 *     in errors).</li>
 *     <li>{@code serial}: only a device with this serial number string matches (read from the device on open).</li>
 *     <li>{@code interface}: the interface to claim, 0 by default.</li>
 *     <li>{@code in}, {@code out}: bulk endpoint addresses (0x81..0x8f, 0x01..0x0f, hexadecimal with {@code 0x} or
 *     decimal); by default the interface's first bulk IN and first bulk OUT endpoint.</li>
 *     <li>{@code hotplug}: {@code true} (default) uses libusb's hotplug events where libusb has them and polls the
 *     device list otherwise; {@code false} always polls.</li>
 *     <li>{@code poll_ms}: how often to poll, 10..60000, 500 by default.</li>
 * </ul>
 * A listener opens every matching device attached now and every one that arrives; {@code connect} opens one matching
 * device attached now, or fails naming the ids. A connection's {@code Endpoint} carries bus, port path, vendor and
 * product id and serial number; unplugging the device closes it with {@code DEVICE_GONE}. usb4java types stay inside
 * this package.
 */
package dev.mancom.transport.usb;
