package dev.mancom.broker.internal;

import dev.mancom.broker.config.ConfigException;
import dev.mancom.broker.config.ServiceConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * Who may use a service: register an acceptor for it, or connect to it by its name (an outbound connection through
 * its {@code connect} URI, or a connection to an application that accepts it). Built from the service's
 * {@code allow_users} and {@code allow_groups}, with the names looked up in the system's user database when the
 * configuration is loaded or reloaded. Immutable.
 * <p>
 * Root and the broker's own user may always use every service: both can read and write the broker's shared memory
 * anyway, so refusing them would protect nothing. Anyone else must be listed in {@code allow_users}, or hold
 * (as effective or supplementary group) a group listed in {@code allow_groups}. Both lists empty: nobody else.
 */
public final class ServiceAccess
{
    private final String service;
    private final int[] users;
    private final int[] groups;
    private final String usersKey;
    private final String groupsKey;
    private final List<String> userNames;
    private final List<String> groupNames;

    private ServiceAccess(final ServiceConfig config, final int[] users, final int[] groups)
    {
        this.service = config.name();
        this.users = users;
        this.groups = groups;
        this.usersKey = config.key("allow_users");
        this.groupsKey = config.key("allow_groups");
        this.userNames = config.allowUsers();
        this.groupNames = config.allowGroups();
    }

    /**
     * Look a service's lists up.
     *
     * @param config the service.
     * @return its access rules.
     * @throws ConfigException naming the file, line and key of every name that is not a known user or group.
     */
    public static ServiceAccess of(final ServiceConfig config)
    {
        final List<ConfigException> errors = new ArrayList<>();
        final int[] users = resolve(config, "allow_users", config.allowUsers(), true, errors);
        final int[] groups = resolve(config, "allow_groups", config.allowGroups(), false, errors);
        if (!errors.isEmpty())
        {
            throw ConfigException.combine(errors);
        }
        return new ServiceAccess(config, users, groups);
    }

    private static int[] resolve(
        final ServiceConfig config,
        final String field,
        final List<String> names,
        final boolean user,
        final List<ConfigException> errors)
    {
        final int[] ids = new int[names.size()];
        for (int i = 0; i < ids.length; i++)
        {
            final String name = names.get(i);
            ids[i] = user ? Accounts.userId(name) : Accounts.groupId(name);
            if (Accounts.UNKNOWN == ids[i])
            {
                errors.add(config.error(field, Accounts.unknownName(name, user)));
            }
        }
        return ids;
    }

    /**
     * Why a client may not use the service, or null when it may.
     *
     * @param peer       what the kernel said of the client.
     * @param brokerUid  the broker's effective user id.
     * @param what       what the client tried, such as {@code "register an acceptor for"}.
     * @return the reason, naming the service, the keys and the uid; null when allowed.
     */
    public String denial(final PeerCredentials peer, final int brokerUid, final String what)
    {
        final int uid = peer.uid();
        if (0 == uid || brokerUid == uid)
        {
            return null;
        }
        for (final int user : users)
        {
            if (user == uid)
            {
                return null;
            }
        }
        for (final int group : groups)
        {
            if (peer.inGroup(group))
            {
                return null;
            }
        }
        return "uid " + uid + " (pid " + peer.pid() + ", gid " + peer.gid() + ") may not " + what + " service '" +
            service + "': it is not root, not the broker's user (uid " + brokerUid + "), not listed in " +
            usersKey + " " + userNames + " and holds no group of " + groupsKey + " " + groupNames;
    }
}
